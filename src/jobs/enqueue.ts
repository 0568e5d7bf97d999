import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { keys } from '../core/keys.ts';
import { defaultJobOptions, jobRetentionSeconds, type NodeQueues } from './queues.ts';
import {
  deleteAppJob,
  deployAppJob,
  operateAppJob,
  runAppJob,
  type RunAppData,
  type DeleteAppData,
  type DeployAppData,
  type OperateAppData,
} from './schemas.ts';

export interface EnqueuedJob {
  id: string;
  queue: string;
}

/**
 * Every job is enqueued on behalf of a user, who (with admins) may then see it. An app's jobs go
 * to each node it runs on (`nodes`, the primary first, see core/app-placement.ts); the primary's
 * job is the one returned, to poll: it ends when every node's part has.
 */
export interface Enqueuer {
  deployApp(nodes: readonly string[], data: DeployAppData, owner: string): Promise<EnqueuedJob>;
  deleteApp(nodes: readonly string[], data: DeleteAppData, owner: string): Promise<EnqueuedJob>;
  operateApp(nodes: readonly string[], data: OperateAppData, owner: string): Promise<EnqueuedJob>;
  /**
   * A one-off run on one node (the app's primary: its release is there), attempted once: a
   * command is not run again because it failed. `id` fixed by the caller (a schedule's tick).
   */
  runApp(node: string, data: RunAppData, owner: string, id: string): Promise<EnqueuedJob>;
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
  return async function add<S extends z.ZodType>(
    node: string,
    job: JobDefinition<S>,
    id: string,
    data: z.infer<S>,
    owner: string,
  ): Promise<EnqueuedJob> {
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
  const addOnce = jobAdder(redis, queues, 1);
  /** One job per node; the others' ids are the primary's with `-on-<node>`. */
  function fanOut<S extends z.ZodType>(job: JobDefinition<S>, id: string) {
    return async (nodes: readonly string[], data: z.infer<S>, owner: string): Promise<EnqueuedJob> => {
      const [primary, ...others] = nodes;
      if (primary === undefined) throw new Error(`${job.name}: no node to run on`);
      const first = await add(primary, job, id, data, owner);
      await Promise.all(others.map((node) => add(node, job, nodeJobId(id, node), data, owner)));
      return first;
    };
  }
  return {
    deployApp: (nodes, data, owner) =>
      fanOut(deployAppJob, `deploy-${data.app}-${data.uid}-${data.release}`)(nodes, data, owner),
    // One deletion per incarnation: asking twice returns the job already queued.
    deleteApp: (nodes, data, owner) => fanOut(deleteAppJob, `delete-${data.app}-${data.uid}`)(nodes, data, owner),
    operateApp: (nodes, data, owner) => fanOut(operateAppJob, operationJobId(data))(nodes, data, owner),
    runApp: (node, data, owner, id) => addOnce(node, runAppJob, id, data, owner),
  };
}

/** The id of the part of job `id` that runs on a node other than the app's primary. */
export function nodeJobId(id: string, node: string): string {
  return `${id}-on-${node}`;
}

/** `<op>-<app>-<uid>-<seq>`: `restart-blog-3f9c1a2b7e-4`. */
export function operationJobId(data: OperateAppData): string {
  return `${data.op}-${data.app}-${data.uid}-${data.seq}`;
}
