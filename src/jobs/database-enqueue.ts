import type { Redis } from 'ioredis';
import { jobAdder, type EnqueuedJob } from './enqueue.ts';
import type { NodeQueues } from './queues.ts';
import {
  backupDatabaseJob,
  deleteDatabaseJob,
  provisionDatabaseJob,
  restoreDatabaseJob,
  rotateDatabasePasswordJob,
  type BackupJobData,
  type DatabaseJobData,
  type RotateJobData,
} from './database-jobs.ts';

/** Every job is enqueued on behalf of a user, who (with admins) may then see it. */
export interface DatabaseEnqueuer {
  provision(node: string, data: DatabaseJobData, owner: string): Promise<EnqueuedJob>;
  remove(node: string, data: DatabaseJobData, owner: string): Promise<EnqueuedJob>;
  backup(node: string, data: BackupJobData, owner: string): Promise<EnqueuedJob>;
  restore(node: string, data: BackupJobData, attempt: string, owner: string): Promise<EnqueuedJob>;
  rotatePassword(node: string, data: RotateJobData, owner: string): Promise<EnqueuedJob>;
}

/** Fixed job ids, as for apps (jobs/enqueue.ts): asking twice for the same thing adds one job. */
export function createDatabaseEnqueuer(redis: Redis, queues: NodeQueues, attempts: number): DatabaseEnqueuer {
  const add = jobAdder(redis, queues, attempts);
  const base = (d: DatabaseJobData) => `${d.database}-${d.uid}`;
  return {
    provision: (node, d, owner) => add(node, provisionDatabaseJob, `db-provision-${base(d)}`, d, owner),
    remove: (node, d, owner) => add(node, deleteDatabaseJob, `db-delete-${base(d)}`, d, owner),
    backup: (node, d, owner) => add(node, backupDatabaseJob, `db-backup-${base(d)}-${d.backup}`, d, owner),
    // A backup may be restored many times: each request names its attempt.
    restore: (node, d, attempt, owner) =>
      add(node, restoreDatabaseJob, `db-restore-${base(d)}-${d.backup}-${attempt}`, d, owner),
    rotatePassword: (node, d, owner) =>
      add(node, rotateDatabasePasswordJob, `db-rotate-${base(d)}-v${d.version}`, d, owner),
  };
}
