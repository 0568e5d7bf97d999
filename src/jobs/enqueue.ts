import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { keys } from '../core/keys.ts';
import { defaultJobOptions, jobRetentionSeconds, type NodeQueues } from './queues.ts';
import { deleteAppJob, deployAppJob, operateAppJob, type DeleteAppData, type DeployAppData, type OperateAppData } from './schemas.ts';

export interface EnqueuedJob {
  id: string;
  queue: string;
}

export interface Enqueuer {
  deployApp(node: string, data: DeployAppData): Promise<EnqueuedJob>;
  deleteApp(node: string, data: DeleteAppData): Promise<EnqueuedJob>;
  operateApp(node: string, data: OperateAppData): Promise<EnqueuedJob>;
}

interface JobDefinition<S extends z.ZodType> {
  name: string;
  schema: S;
}

/**
 * Fixed job ids make enqueueing idempotent: asking twice for the same release's deploy adds
 * one job. The id → queue index lets `GET /jobs/:id` find a job without knowing its node.
 */
export function createEnqueuer(redis: Redis, queues: NodeQueues, attempts: number): Enqueuer {
  async function add<S extends z.ZodType>(node: string, job: JobDefinition<S>, id: string, data: z.infer<S>) {
    const queue = queues.forNode(node);
    await redis.set(keys.jobQueue(id), queue.name, 'EX', jobRetentionSeconds);
    const added = await queue.add(job.name, job.schema.parse(data), { ...defaultJobOptions(attempts), jobId: id });
    // A fixed id dedupes a repeated request; but one that failed for good is run again, since
    // asking again after a failure (say, Docker was down) means "try once more".
    if ((await added.getState()) === 'failed') await added.retry('failed');
    return { id, queue: queue.name };
  }
  return {
    deployApp: (node, data) => add(node, deployAppJob, `deploy-${data.app}-${data.uid}-${data.release}`, data),
    // One deletion per incarnation: asking twice returns the job already queued.
    deleteApp: (node, data) => add(node, deleteAppJob, `delete-${data.app}-${data.uid}`, data),
    operateApp: (node, data) => add(node, operateAppJob, operationJobId(data), data),
  };
}

/** `<op>-<app>-<uid>-<seq>`: `restart-blog-3f9c1a2b7e-4`. */
export function operationJobId(data: OperateAppData): string {
  return `${data.op}-${data.app}-${data.uid}-${data.seq}`;
}
