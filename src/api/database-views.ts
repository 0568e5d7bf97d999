import { databaseHostName } from '../core/database-naming.ts';
import { connectionUrl, engines } from '../core/engines.ts';
import { databaseStaysReason, describeNodeDown, type NodeCondition } from '../core/node-condition.ts';
import type { BackupMeta, DatabaseDocument } from '../store/database-document.ts';

/** States a lost node freezes: what the worker last wrote no longer says anything. */
const liveStatuses: ReadonlySet<string> = new Set(['queued', 'provisioning', 'running', 'restarting', 'down']);

/**
 * The public shape of a database. The password never leaves the API after creation or rotation.
 * With its node's condition (`node`): while the node is down, `status` is `unavailable` and
 * `nodeState` says why; both follow the node back when it returns (nothing is written).
 */
export function databaseView(doc: DatabaseDocument, node?: NodeCondition) {
  const engine = engines[doc.engine];
  const lost = node !== undefined && node.state !== 'up' && liveStatuses.has(doc.status);
  return {
    name: doc.name,
    engine: doc.engine,
    status: lost ? 'unavailable' : doc.status,
    node: doc.node,
    nodeState: node
      ? {
          ...node,
          message: lost
            ? `${describeNodeDown(node)}: the database is unreachable until the node returns; it is not moved, since ${databaseStaysReason}`
            : node.draining
              ? `node ${node.id} is draining; the database stays, since ${databaseStaysReason}`
              : null,
        }
      : null,
    host: doc.host,
    port: doc.port,
    database: engine?.namedUser ? doc.database : null,
    user: engine?.namedUser ? doc.user : null,
    /** Host name linked apps reach it at, on the database's own network. */
    internalHost: databaseHostName(doc.name),
    internalPort: engine?.port ?? null,
    resources: doc.resources ?? null,
    restarts: doc.restarts ?? 0,
    checkedAt: doc.checkedAt ?? null,
    lastError: doc.lastError ?? null,
    lastJob: doc.lastJob ? { id: doc.lastJob, url: `/jobs/${doc.lastJob}` } : null,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

/** The one-time credentials: the password and the full URL (node address and reserved port). */
export function credentialsView(doc: DatabaseDocument, password: string) {
  const engine = engines[doc.engine]!;
  return {
    password,
    url: connectionUrl(engine, { database: doc.database, user: doc.user, password }, doc.host, doc.port),
  };
}

export function backupView(meta: BackupMeta) {
  return { id: meta.id, size: meta.size, createdAt: meta.createdAt };
}
