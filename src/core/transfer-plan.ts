/**
 * Moving an app or a database to another user: who may, and when it is refused. Pure, so the
 * rules are a table test (test/core/transfer-plan.unit.test.ts); the API route applies them and
 * checks the receiver's quotas (src/api/routes/transfers.ts).
 *
 * What moves and what is revoked, and why (docs/guides/transfers.md says the same to users):
 * - moves: the resource itself with its env, releases, logs, metrics, custom domains, backups;
 * - revoked from an app: its push webhook (the old owner knew the secret), its repository token
 *   (the old owner's credential: the new owner must not clone or act with it), its SSH keys and
 *   password (access follows ownership; the old owner registered them), and with them the old owner's open web
 *   terminals, SSH connections and follows (core/session-revocation.ts);
 * - revoked from a database: its password is rotated (the old owner was shown it); the new owner
 *   gets one with `POST /databases/:name/rotate-password`, as it is never shown to the caller
 *   (who may be the old owner);
 * - linked resources never end up with two owners: an app linked to databases its receiver does
 *   not own is refused (the app's env holds their URLs), and so is a database linked to apps its
 *   receiver does not own. Unlink, transfer each, link again.
 * API tokens belong to users, not resources: none moves or is revoked.
 */
import type { Principal } from './access.ts';

/** One resource linked to the one being moved (a database of an app, or an app of a database). */
export interface LinkedResource {
  name: string;
  owner: string;
}

export interface TransferInput {
  caller: Principal;
  /** The current owner. */
  owner: string;
  /** The receiver named in the request. */
  to: string;
  /** Whether the receiver is a user. */
  receiverExists: boolean;
  /** The databases linked to the app, or the apps linked to the database. */
  linked: readonly LinkedResource[];
}

export type TransferRefusal =
  | { code: 'FORBIDDEN'; message: string }
  | { code: 'VALIDATION_FAILED'; message: string; field: 'to' }
  | { code: 'TRANSFER_LINKED'; message: string };

/**
 * Why `kind` `name` cannot move from `owner` to `to`, or undefined when it may (quotas aside).
 * Only its owner or an admin may give a resource away.
 */
export function transferRefusal(
  kind: 'app' | 'database',
  name: string,
  input: TransferInput,
): TransferRefusal | undefined {
  const { caller, owner, to } = input;
  if (caller.role !== 'admin' && caller.user !== owner)
    return { code: 'FORBIDDEN', message: `only the owner of ${kind} "${name}" or an admin may transfer it` };
  if (!input.receiverExists) return { code: 'VALIDATION_FAILED', message: `no user "${to}"`, field: 'to' };
  if (to === owner)
    return { code: 'VALIDATION_FAILED', message: `"${to}" already owns ${kind} "${name}"`, field: 'to' };
  const stranded = input.linked.filter((l) => l.owner !== to).map((l) => l.name);
  if (stranded.length === 0) return undefined;
  const other = kind === 'app' ? 'database' : 'app';
  return {
    code: 'TRANSFER_LINKED',
    message:
      `${kind} "${name}" is linked to ${other}(s) ${stranded.join(', ')} that "${to}" does not own; ` +
      `unlink them first (PATCH /apps/:name {"databases": [...]}), transfer each, and link again`,
  };
}
