import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { keys } from '../core/keys.ts';
import type { EnqueuedJob } from './enqueue.ts';
import { defaultJobOptions, jobRetentionSeconds, type NodeQueues } from './queues.ts';
import {
  backupDatabaseJob, deleteDatabaseJob, provisionDatabaseJob, restoreDatabaseJob, rotateDatabasePasswordJob,
  type BackupJobData, type DatabaseJobData, type RotateJobData,
} from './database-jobs.ts';

export interface DatabaseEnqueuer {
  provision(node: string, data: DatabaseJobData): Promise<EnqueuedJob>;
  remove(node: string, data: DatabaseJobData): Promise<EnqueuedJob>;
  backup(node: string, data: BackupJobData): Promise<EnqueuedJob>;
  restore(node: string, data: BackupJobData, attempt: string): Promise<EnqueuedJob>;
  rotatePassword(node: string, data: RotateJobData): Promise<EnqueuedJob>;
}

/**
 * Fixed job ids, as for apps (jobs/enqueue.ts): asking twice for the same thing adds one job,
 * and asking again after a final failure runs it once more.
 */
export function createDatabaseEnqueuer(redis: Redis, queues: NodeQueues, attempts: number): DatabaseEnqueuer {
  async function add<S extends z.ZodType>(node: string, job: { name: string; schema: S }, id: string, data: z.infer<S>) {
    const queue = queues.forNode(node);
    await redis.set(keys.jobQueue(id), queue.name, 'EX', jobRetentionSeconds);
    const added = await queue.add(job.name, job.schema.parse(data), { ...defaultJobOptions(attempts), jobId: id });
    if ((await added.getState()) === 'failed') await added.retry('failed');
    return { id, queue: queue.name };
  }
  const base = (d: DatabaseJobData) => `${d.database}-${d.uid}`;
  return {
    provision: (node, d) => add(node, provisionDatabaseJob, `db-provision-${base(d)}`, d),
    remove: (node, d) => add(node, deleteDatabaseJob, `db-delete-${base(d)}`, d),
    backup: (node, d) => add(node, backupDatabaseJob, `db-backup-${base(d)}-${d.backup}`, d),
    // A backup may be restored many times: each request names its attempt.
    restore: (node, d, attempt) => add(node, restoreDatabaseJob, `db-restore-${base(d)}-${d.backup}-${attempt}`, d),
    rotatePassword: (node, d) => add(node, rotateDatabasePasswordJob, `db-rotate-${base(d)}-v${d.version}`, d),
  };
}
