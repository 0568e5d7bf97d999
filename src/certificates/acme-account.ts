import type { Redis } from 'ioredis';
import acme from 'acme-client';
import { z } from 'zod';
import { keys } from '../core/keys.ts';
import type { SecretBox } from '../core/secret-box.ts';

/**
 * The installation's ACME account: one key for the whole cluster, created by whichever node needs
 * it first (SET NX, so two nodes starting together agree on one), sealed like other secrets. The
 * account URL the CA gave is kept per directory, so switching from a test CA to Let's Encrypt
 * registers the same key there.
 */
const accountSchema = z.object({
  keySealed: z.string(),
  /** Directory URL → account URL. */
  urls: z.record(z.string(), z.string()).default({}),
});
type StoredAccount = z.infer<typeof accountSchema>;

export interface AccountKey {
  keyPem: string;
  /** The account URL at `directoryUrl`, when an earlier order learnt it. */
  url?: string;
}

export async function ensureAccountKey(redis: Redis, box: SecretBox, directoryUrl: string): Promise<AccountKey> {
  let raw = await redis.get(keys.acmeAccount);
  if (!raw) {
    const keyPem = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    const fresh: StoredAccount = { keySealed: box.seal(keyPem), urls: {} };
    await redis.set(keys.acmeAccount, JSON.stringify(fresh), 'NX');
    raw = (await redis.get(keys.acmeAccount)) ?? JSON.stringify(fresh);
  }
  const stored = accountSchema.parse(JSON.parse(raw));
  const url = stored.urls[directoryUrl];
  return { keyPem: box.open(stored.keySealed), ...(url ? { url } : {}) };
}

/** Records the account URL a directory gave (idempotent: the same key always gets the same URL). */
export async function rememberAccountUrl(redis: Redis, directoryUrl: string, url: string): Promise<void> {
  const raw = await redis.get(keys.acmeAccount);
  if (!raw) return;
  const stored = accountSchema.parse(JSON.parse(raw));
  if (stored.urls[directoryUrl] === url) return;
  stored.urls[directoryUrl] = url;
  await redis.set(keys.acmeAccount, JSON.stringify(stored), 'XX');
}
