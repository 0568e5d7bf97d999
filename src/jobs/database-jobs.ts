import { z } from 'zod';

/**
 * Database job payloads, declared once: the API enqueues them, the node worker parses what
 * arrives. Each carries the database's name and incarnation (uid), never a diff: the worker
 * reads the desired state (engine, sealed password, resources) from Redis.
 */
const target = { database: z.string(), uid: z.string() };

export const provisionDatabaseJob = { name: 'db-provision', schema: z.object(target) } as const;
export const deleteDatabaseJob = { name: 'db-delete', schema: z.object(target) } as const;
export const backupDatabaseJob = { name: 'db-backup', schema: z.object({ ...target, backup: z.string() }) } as const;
export const restoreDatabaseJob = { name: 'db-restore', schema: z.object({ ...target, backup: z.string() }) } as const;
/** Converges the engine to the password of `version` (the document holds the current one). */
export const rotateDatabasePasswordJob = {
  name: 'db-rotate-password',
  schema: z.object({ ...target, version: z.number().int() }),
} as const;

export type DatabaseJobData = z.infer<typeof provisionDatabaseJob.schema>;
export type BackupJobData = z.infer<typeof backupDatabaseJob.schema>;
export type RotateJobData = z.infer<typeof rotateDatabasePasswordJob.schema>;

export const databaseJobNames: ReadonlySet<string> = new Set([
  provisionDatabaseJob.name,
  deleteDatabaseJob.name,
  backupDatabaseJob.name,
  restoreDatabaseJob.name,
  rotateDatabasePasswordJob.name,
]);
