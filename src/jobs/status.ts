import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import type { NodeQueues } from './queues.ts';
import { jobProgressSchema, type JobProgress } from './schemas.ts';

/** What `GET /jobs/:id` answers: everything a client polling a deploy needs, from Redis alone. */
export interface JobView {
  id: string;
  type: string;
  queue: string;
  state: string;
  progress: JobProgress;
  attempts: { made: number; max: number };
  log: string[];
  result: unknown;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

export async function findJob(redis: Redis, queues: NodeQueues, id: string): Promise<Job | undefined> {
  const queueName = await redis.get(keys.jobQueue(id));
  if (!queueName) return undefined;
  return (await queues.byName(queueName).getJob(id)) ?? undefined;
}

/**
 * Removes job `id` and its index keys if it has finished (completed or failed); a job still
 * waiting or running stays. Per job, since BullMQ's `removeOnComplete: { count }` trims a whole
 * queue's finished jobs, whatever their kind. True when it was removed.
 */
export async function removeFinishedJob(redis: Redis, queues: NodeQueues, id: string): Promise<boolean> {
  const job = await findJob(redis, queues, id);
  if (!job) return false;
  const state = await job.getState();
  if (state !== 'completed' && state !== 'failed') return false;
  await job.remove();
  await redis.del(keys.jobQueue(id), keys.jobOwner(id));
  return true;
}

export async function viewJob(queues: NodeQueues, fetched: Job): Promise<JobView> {
  const queue = queues.byName(fetched.queueName);
  const [state, logs] = await Promise.all([fetched.getState(), queue.getJobLogs(fetched.id!, 0, -1)]);
  // The job may have finished between reading it and reading its state: read it again, so a
  // finished state never comes without its result.
  const finished = state === 'completed' || state === 'failed';
  const job = finished && !fetched.finishedOn ? ((await queue.getJob(fetched.id!)) ?? fetched) : fetched;
  const progress = jobProgressSchema.safeParse(job.progress);
  return {
    id: job.id!,
    type: job.name,
    queue: job.queueName,
    state,
    progress: progress.success ? progress.data : { percent: 0, step: state },
    attempts: { made: job.attemptsMade, max: job.opts.attempts ?? 1 },
    log: logs.logs,
    result: job.returnvalue ?? null,
    error: job.failedReason || null,
    createdAt: iso(job.timestamp)!,
    startedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
  };
}
