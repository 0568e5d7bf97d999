import type { Job } from 'bullmq';
import {
  backupDatabaseJob,
  deleteDatabaseJob,
  provisionDatabaseJob,
  restoreDatabaseJob,
  rotateDatabasePasswordJob,
} from '../../jobs/database-jobs.ts';
import type { DatabaseWorkerContext } from './context.ts';
import {
  backupDatabase,
  deleteDatabase,
  provisionDatabase,
  restoreDatabase,
  type DatabaseJobResult,
} from './operations.ts';

/** Parses a database job's payload with its declared schema and runs its handler. */
export function runDatabaseJob(ctx: DatabaseWorkerContext, job: Job): Promise<DatabaseJobResult> {
  switch (job.name) {
    case provisionDatabaseJob.name:
      return provisionDatabase(ctx, job, provisionDatabaseJob.schema.parse(job.data));
    // A rotation is a provision at the new password: the container is recreated with it (data kept).
    case rotateDatabasePasswordJob.name:
      return provisionDatabase(ctx, job, rotateDatabasePasswordJob.schema.parse(job.data));
    case deleteDatabaseJob.name:
      return deleteDatabase(ctx, job, deleteDatabaseJob.schema.parse(job.data));
    case backupDatabaseJob.name:
      return backupDatabase(ctx, job, backupDatabaseJob.schema.parse(job.data));
    case restoreDatabaseJob.name:
      return restoreDatabase(ctx, job, restoreDatabaseJob.schema.parse(job.data));
    default:
      throw new Error(`unknown database job ${job.name}`);
  }
}
