import ssh2, { type AuthContext } from 'ssh2';
import type { Logger } from '../core/log.ts';
import type { AppStore } from '../store/apps.ts';
import type { SshCredentialStore } from '../store/ssh-credentials.ts';
import type { AuthLimiter } from './auth-limiter.ts';
import { verifyPassword } from './password.ts';
import { findMatchingKey } from './public-key.ts';
import { parseSshUser, type SshTarget } from './target.ts';

export const offeredMethods: ssh2.AuthenticationType[] = ['publickey', 'password'];

/** A hash no password matches, verified when an app has none, so both cases take as long. */
const unmatchable = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export interface AuthDeps {
  apps: AppStore;
  credentials: SshCredentialStore;
  limiter: AuthLimiter;
  log: Logger;
  now?: () => number;
}

export type AuthOutcome =
  | {
      result: 'accepted';
      target: SshTarget;
      /** The app's owner when its credentials were checked: they are that owner's, and go with a transfer. */
      owner: string;
    }
  | { result: 'key-ok' }
  | { result: 'rejected'; counted: boolean };

/**
 * Decides one authentication request. `none` and other methods are refused without counting;
 * a public key is acceptable when registered for the app (compared in constant time), and
 * accepted once its signature verifies; a password when it matches the app's scrypt hash.
 * Unknown users and apps being deleted are refused like wrong credentials.
 */
export async function decideAuth(ctx: AuthContext, deps: AuthDeps): Promise<AuthOutcome> {
  if (ctx.method !== 'publickey' && ctx.method !== 'password') return { result: 'rejected', counted: false };
  const target = parseSshUser(ctx.username);
  const doc = target ? await deps.apps.get(target.app) : undefined;
  const live = target !== undefined && doc !== undefined && doc.status !== 'deleting';

  if (ctx.method === 'publickey') {
    const keys = live ? await deps.credentials.listKeys(target.app) : [];
    const match = findMatchingKey(keys, ctx.key.data);
    if (!match) return { result: 'rejected', counted: true };
    // Without a signature the client only asks whether the key would do; it signs next.
    if (!ctx.signature || !ctx.blob) return { result: 'key-ok' };
    const publicKey = ssh2.utils.parseKey(`${match.type} ${match.blob}`);
    if (publicKey instanceof Error || Array.isArray(publicKey)) return { result: 'rejected', counted: true };
    const verified = publicKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo as string | undefined) === true;
    return verified
      ? { result: 'accepted', target: target!, owner: doc!.owner }
      : { result: 'rejected', counted: true };
  }

  const hash = live ? await deps.credentials.passwordHash(target.app) : undefined;
  const matches = await verifyPassword(ctx.password, hash ?? unmatchable);
  return matches && hash
    ? { result: 'accepted', target: target!, owner: doc!.owner }
    : { result: 'rejected', counted: true };
}

/**
 * Wires decideAuth to an ssh2 connection with the per-address limiter: a locked-out address is
 * refused without looking at its credentials; each counted failure is answered only after the
 * limiter's delay. Calls `onAccepted` with the target, and the owner whose credentials they were, before accepting.
 */
export function handleAuthentication(
  ctx: AuthContext,
  remote: string,
  deps: AuthDeps,
  onAccepted: (target: SshTarget, owner: string) => void,
): void {
  const now = deps.now ?? Date.now;
  const verdict = deps.limiter.check(remote, now());
  if (!verdict.allowed) {
    if (ctx.method !== 'none')
      deps.log.warn(
        { remote, user: ctx.username, retryAfterMs: verdict.retryAfterMs },
        'ssh authentication refused: address locked out',
      );
    ctx.reject(offeredMethods);
    return;
  }
  decideAuth(ctx, deps).then(
    (outcome) => {
      if (outcome.result === 'key-ok') return ctx.accept();
      if (outcome.result === 'accepted') {
        deps.log.info({ remote, user: ctx.username, method: ctx.method }, 'ssh authentication accepted');
        onAccepted(outcome.target, outcome.owner);
        return ctx.accept();
      }
      if (!outcome.counted) return ctx.reject(offeredMethods);
      const next = deps.limiter.failure(remote, now());
      deps.log.warn({ remote, user: ctx.username, method: ctx.method }, 'ssh authentication failed');
      const delayMs = next.allowed ? next.delayMs : 0;
      setTimeout(() => ctx.reject(offeredMethods), delayMs).unref();
    },
    (err: Error) => {
      deps.log.error({ err, remote, user: ctx.username }, 'ssh authentication error');
      ctx.reject(offeredMethods);
    },
  );
}
