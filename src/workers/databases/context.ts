import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { DatabaseCredentials } from '../../core/engines.ts';
import type { Logger } from '../../core/log.ts';
import type { SecretBox } from '../../core/secret-box.ts';
import type { DatabaseDocument } from '../../store/database-document.ts';
import type { DatabaseStore } from '../../store/databases.ts';

/** What the database jobs need to know about this node and its limits. */
export interface DatabaseWorkerOptions {
  /** The installation (core/installation.ts): labels and names of what the jobs create. */
  installation: string;
  nodeId: string;
  nodeAddress: string;
  imagePrefix: string;
  /** Image per engine, overriding `<prefix>/<engine>:latest`. */
  databaseImages: Record<string, string>;
  /** How long a new database has to accept a login. Default 90 s. */
  readyTimeoutMs: number;
  /** Largest backup kept (they live in Redis). Default 64 MiB. */
  backupMaxBytes: number;
  /** Backups kept per database; older ones are dropped. Default 5. */
  backupsKept: number;
  /** Period of the health monitor. Default 5 s. */
  monitorMs: number;
  /** IPv4 CIDR the database networks' subnets are taken from (docker/networks.ts). */
  networkPool?: string;
}

export const defaultDatabaseWorkerOptions = {
  databaseImages: {},
  readyTimeoutMs: 90_000,
  backupMaxBytes: 64 * 1024 * 1024,
  backupsKept: 5,
  monitorMs: 5_000,
} satisfies Partial<DatabaseWorkerOptions>;

export interface DatabaseWorkerContext {
  docker: Docker;
  redis: Redis;
  databases: DatabaseStore;
  secrets: SecretBox;
  log: Logger;
  options: DatabaseWorkerOptions;
}

/** The credentials of a database, with its password opened. Only the worker does this. */
export function credentialsOf(doc: DatabaseDocument, secrets: SecretBox): DatabaseCredentials {
  return { database: doc.database, user: doc.user, password: secrets.open(doc.sealedPassword) };
}
