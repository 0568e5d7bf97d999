import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullPrefix } from '../core/keys.ts';
import { queueName } from '../core/naming.ts';

/**
 * One BullMQ queue per node: BullMQ has no routing by tag, so "run this on node X" means
 * "put it in X's queue". Queues are opened lazily and kept.
 */
export class NodeQueues {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly connection: Redis) {}

  forNode(nodeId: string): Queue {
    return this.open(queueName(nodeId));
  }

  /** A node's queue by its name (`node-<id>`), or a cluster-wide one (`certificates`). */
  byName(name: string): Queue {
    return this.open(name);
  }

  private open(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: bullPrefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  all(): Queue[] {
    return [...this.queues.values()];
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}

/**
 * Retries with exponential backoff for transient failures; the worker throws BullMQ's
 * UnrecoverableError for user errors (a failing build), which are not retried. Finished jobs
 * are kept for a day (failed ones a week) so `GET /jobs/:id` can answer after the fact.
 */
export function defaultJobOptions(attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: 24 * 3600, count: 5000 },
    removeOnFail: { age: jobRetentionSeconds, count: 5000 },
  };
}

/** The longest a finished job is kept (failed ones: a week). */
export const jobRetentionSeconds = 7 * 24 * 3600;
