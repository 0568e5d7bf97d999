import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';

/** Upper bounds (seconds) of the deploy duration histogram's buckets. */
export const deployDurationBuckets = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800] as const;

export type DeployOutcome = 'deployed' | 'failed';

/** A Prometheus histogram's state: cumulative bucket counts, sum and count. */
export interface HistogramState {
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

/** Bounds a duration falls under (cumulative buckets: every bound ≥ the value). Pure. */
export function bucketsFor(seconds: number, bounds: readonly number[] = deployDurationBuckets): number[] {
  return bounds.filter((le) => seconds <= le);
}

/**
 * Deploy durations as a histogram kept in Redis, so it counts every node's deploys and
 * survives restarts: node workers add to it when a deploy ends, the API's `/metrics` reads it.
 * Fields are `<outcome>|<bound>`, `<outcome>|sum` and `<outcome>|count`.
 */
export class DeployDurations {
  constructor(private readonly redis: Redis) {}

  async observe(outcome: DeployOutcome, seconds: number): Promise<void> {
    const tx = this.redis.multi();
    for (const le of bucketsFor(seconds)) tx.hincrby(keys.deployDurations, `${outcome}|${le}`, 1);
    tx.hincrbyfloat(keys.deployDurations, `${outcome}|sum`, seconds).hincrby(
      keys.deployDurations,
      `${outcome}|count`,
      1,
    );
    await tx.exec();
  }

  async read(): Promise<Map<DeployOutcome, HistogramState>> {
    const fields = await this.redis.hgetall(keys.deployDurations);
    const states = new Map<DeployOutcome, HistogramState>();
    for (const outcome of ['deployed', 'failed'] as const) {
      const count = Number(fields[`${outcome}|count`] ?? 0);
      states.set(outcome, {
        buckets: deployDurationBuckets.map((le) => ({ le, count: Number(fields[`${outcome}|${le}`] ?? 0) })),
        sum: Number(fields[`${outcome}|sum`] ?? 0),
        count,
      });
    }
    return states;
  }
}
