import { canSee, type Principal, type Role } from './access.ts';

/**
 * Which open sessions lose their app when access to it narrows: a transfer, the app's deletion,
 * its user's deletion or a token's revocation. Pure, so the rules are a table test
 * (test/core/session-revocation.unit.test.ts); src/store/access-watch.ts reads the state and
 * ends the sessions it names. A session that lost access ends at once, as a request with a
 * revoked token does: what was open is no exception to what a new request would be refused.
 */

/** Who holds an open session: a signed-in user (a follow, a web terminal) or the app's SSH credentials. */
export type SessionHolder =
  | {
      kind: 'user';
      user: string;
      /** The role when the session opened: a change of it is told apart from a transfer. */
      role: Role;
      /** The API token it came with; none for the bootstrap admin token. */
      tokenId?: string;
    }
  | {
      kind: 'credentials';
      /** The owner when the credentials were checked: they are the owner's, and go with a transfer. */
      owner: string;
    };

/** The holder of a session opened by an API request. */
export function holderOf(principal: Principal): SessionHolder {
  return {
    kind: 'user',
    user: principal.user,
    role: principal.role,
    ...(principal.tokenId !== undefined ? { tokenId: principal.tokenId } : {}),
  };
}

export interface WatchedSession {
  id: string;
  app: string;
  holder: SessionHolder;
}

/** What the watcher read, for the apps and users of the sessions it decides on. */
export interface AccessState {
  /** The app, or undefined when it is gone. */
  app(name: string): { owner: string; status: string } | undefined;
  /** The user's current role, or undefined when the user is gone. */
  user(name: string): { role: Role } | undefined;
  /** Whether the user still has the token with that id. */
  tokenLive(user: string, tokenId: string): boolean;
}

export type RevocationReason = 'app deleted' | 'app transferred' | 'user deleted' | 'token revoked' | 'role changed';

export interface Revocation {
  id: string;
  reason: RevocationReason;
}

/**
 * The sessions among `sessions` that must end, each with why. An admin's sessions survive a
 * transfer (an admin sees every app); every session of a deleted app ends.
 */
export function decideRevocations(sessions: readonly WatchedSession[], state: AccessState): Revocation[] {
  const out: Revocation[] = [];
  for (const session of sessions) {
    const reason = revocationOf(session, state);
    if (reason) out.push({ id: session.id, reason });
  }
  return out;
}

function revocationOf(session: WatchedSession, state: AccessState): RevocationReason | undefined {
  const app = state.app(session.app);
  if (!app || app.status === 'deleting') return 'app deleted';
  const holder = session.holder;
  if (holder.kind === 'credentials') return app.owner === holder.owner ? undefined : 'app transferred';
  const user = state.user(holder.user);
  if (!user) return 'user deleted';
  if (holder.tokenId !== undefined && !state.tokenLive(holder.user, holder.tokenId)) return 'token revoked';
  if (canSee({ user: holder.user, role: user.role, scopes: [] }, app.owner)) return undefined;
  // The current role: a user made a member loses the apps of others they saw as an admin.
  return user.role !== holder.role ? 'role changed' : 'app transferred';
}

/** The line a terminal or SSH session shows before it is closed. */
export function revocationNotice(reason: RevocationReason): string {
  const why = {
    'app deleted': 'this app was deleted',
    'app transferred': 'this app was transferred to another user',
    'user deleted': 'your user was deleted',
    'token revoked': 'the token this session was opened with was revoked',
    'role changed': 'your role no longer gives you this app',
  }[reason];
  return `[gasper] ${why}; session closed`;
}

/** The reason an event stream's `event: end` gives: deletion as before, any other loss of access as one. */
export function streamEndReason(reason: RevocationReason): 'app deleted' | 'access revoked' {
  return reason === 'app deleted' ? 'app deleted' : 'access revoked';
}
