import { databaseContainerName } from '../core/database-naming.ts';
import { connectionUrl, engines } from '../core/engines.ts';
import type { BackupMeta, DatabaseDocument } from '../store/database-document.ts';

/** The public shape of a database. The password never leaves the API after creation or rotation. */
export function databaseView(doc: DatabaseDocument) {
  const engine = engines[doc.engine];
  return {
    name: doc.name,
    engine: doc.engine,
    status: doc.status,
    node: doc.node,
    host: doc.host,
    port: doc.port,
    database: engine?.namedUser ? doc.database : null,
    user: engine?.namedUser ? doc.user : null,
    /** Host name linked apps reach it at, on the database's own network. */
    internalHost: databaseContainerName(doc.name),
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
  return { password, url: connectionUrl(engine, { database: doc.database, user: doc.user, password }, doc.host, doc.port) };
}

export function backupView(meta: BackupMeta) {
  return { id: meta.id, size: meta.size, createdAt: meta.createdAt };
}
