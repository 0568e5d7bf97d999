import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { keys } from '../core/keys.ts';
import { defaultJobOptions, jobRetentionSeconds, type NodeQueues } from './queues.ts';
import { deleteAppJob, deployAppJob, operateAppJob, type DeleteAppData, type DeployAppData, type OperateAppData } from './schemas.ts';

export interface EnqueuedJob {
  id: string;
  queue: string;
}

/** Every job is enqueued on behalf of a user, who (with admins) may then see it. */
export interface Enqueuer {
  deployApp(node: string, data: DeployAppData, owner: string): Promise<EnqueuedJob>;
  deleteApp(node: string, data: DeleteAppData, owner: string): Promise<EnqueuedJob>;
  operateApp(node: string, data: OperateAppData, owner: string): Promise<EnqueuedJob>;
}

export interface JobDefinition<S extends z.ZodType> {
  name: string;
  schema: S;
}

/**
 * Adds a job with a fixed id to a node's queue, recording which queue holds it and whom it is for.
 * A fixed id dedupes a repeated request; but one that failed for good is run again, since asking
 * again after a failure (say, Docker was down) means "try once more".
 */
export function jobAdder(redis: Redis, queues: NodeQueues, attempts: number) {
  return async function add<S extends z.ZodType>(node: string, job: JobDefinition<S>, id: string, data: z.infer<S>, owner: string): Promise<EnqueuedJob> {
    const queue = queues.forNode(node);
    await redis
      .multi()
      .set(keys.jobQueue(id), queue.name, 'EX', jobRetentionSeconds)
      .set(keys.jobOwner(id), owner, 'EX', jobRetentionSeconds)
      .exec();
    const added = await queue.add(job.name, job.schema.parse(data), { ...defaultJobOptions(attempts), jobId: id });
    if ((await added.getState()) === 'failed') await added.retry('failed');
    return { id, queue: queue.name };
  };
}

/**
 * Fixed job ids make enqueueing idempotent: asking twice for the same release's deploy adds
 * one job. The id → queue index lets `GET /jobs/:id` find a job without knowing its node.
 */
export function createEnqueuer(redis: Redis, queues: NodeQueues, attempts: number): Enqueuer {
  const add = jobAdder(redis, queues, attempts);
  return {
    deployApp: (node, data, owner) => add(node, deployAppJob, `deploy-${data.app}-${data.uid}-${data.release}`, data, owner),
    // One deletion per incarnation: asking twice returns the job already queued.
    deleteApp: (node, data, owner) => add(node, deleteAppJob, `delete-${data.app}-${data.uid}`, data, owner),
    operateApp: (node, data, owner) => add(node, operateAppJob, operationJobId(data), data, owner),
  };
}

/** `<op>-<app>-<uid>-<seq>`: `restart-blog-3f9c1a2b7e-4`. */
export function operationJobId(data: OperateAppData): string {
  return `${data.op}-${data.app}-${data.uid}-${data.seq}`;
}
