import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import { scheduleSchema, type Schedule } from '../jobs/schedule-jobs.ts';

/**
 * Runs listed per schedule; older ones are forgotten, and their finished jobs removed then (the tick
 * worker does it): a schedule every minute would otherwise keep a day of run jobs, logs and all.
 */
export const runsKept = 50;

/**
 * A tick that ran nothing but is listed among the runs (an app stopped): its entry in the runs'
 * set is `skipped:<tick ms>:<reason>`, not a job id (pure).
 */
export function skippedRunEntry(tickMs: number, reason: string): string {
  return `skipped:${tickMs}:${reason}`;
}

/** A runs' set entry that is a skipped tick: its time and reason; undefined for a run job's id. */
export function parseSkippedRun(entry: string): { tickMs: number; reason: string } | undefined {
  const match = /^skipped:(\d+):(.*)$/s.exec(entry);
  return match ? { tickMs: Number(match[1]), reason: match[2]! } : undefined;
}

/**
 * An app's schedules (a hash, id → record) and each one's latest runs (a sorted set of run job
 * ids by tick time, so recording the same tick twice, a retried tick, adds it once).
 */
export class ScheduleStore {
  constructor(private readonly redis: Redis) {}

  async put(schedule: Schedule): Promise<void> {
    await this.redis.hset(keys.appSchedules(schedule.app), schedule.id, JSON.stringify(scheduleSchema.parse(schedule)));
  }

  async get(app: string, id: string): Promise<Schedule | undefined> {
    const raw = await this.redis.hget(keys.appSchedules(app), id);
    return raw ? scheduleSchema.parse(JSON.parse(raw)) : undefined;
  }

  async list(app: string): Promise<Schedule[]> {
    const raw = await this.redis.hvals(keys.appSchedules(app));
    return raw.map((r) => scheduleSchema.parse(JSON.parse(r))).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** True when the schedule existed. Its runs' list goes with it. */
  async remove(app: string, id: string): Promise<boolean> {
    const [[, removed]] = (await this.redis
      .multi()
      .hdel(keys.appSchedules(app), id)
      .del(keys.scheduleRuns(app, id))
      .exec()) as [[unknown, number]];
    return removed === 1;
  }

  /** Lists a run; returns the run job ids that fell off the list (older than the newest `runsKept`). */
  async recordRun(app: string, id: string, tickMs: number, job: string): Promise<string[]> {
    const key = keys.scheduleRuns(app, id);
    const replies = (await this.redis
      .multi()
      .zadd(key, tickMs, job)
      .zrange(key, 0, -(runsKept + 1))
      .zremrangebyrank(key, 0, -(runsKept + 1))
      .exec()) as [Error | null, unknown][];
    return replies[1]![1] as string[];
  }

  /** Lists a skipped tick (skippedRunEntry); returns what fell off the list, as recordRun. */
  async recordSkipped(app: string, id: string, tickMs: number, reason: string): Promise<string[]> {
    return this.recordRun(app, id, tickMs, skippedRunEntry(tickMs, reason));
  }

  /** Run job ids (and skipped ticks' entries), newest first. */
  async runs(app: string, id: string): Promise<string[]> {
    return this.redis.zrevrange(keys.scheduleRuns(app, id), 0, -1);
  }
}
