import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the oldest counted event leaves the window (for Retry-After). */
  retryAfterSeconds: number;
}

/**
 * Sliding-window counters in Redis (a sorted set of event times per subject), shared by every
 * API process. A sliding window, unlike fixed minutes, never lets twice the limit through
 * around a boundary. `hit` counts one event; `peek` only reads.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly name: string,
  ) {}

  async hit(subject: string, limit: number, windowSeconds = 60, now = Date.now()): Promise<RateDecision> {
    const key = keys.rateLimit(this.name, subject);
    const results = await this.redis
      .multi()
      .zremrangebyscore(key, '-inf', now - windowSeconds * 1000)
      .zadd(key, now, `${now}-${crypto.randomBytes(4).toString('hex')}`)
      .zcard(key)
      .zrange(key, 0, 0, 'WITHSCORES')
      .pexpire(key, windowSeconds * 1000)
      .exec();
    return this.decide(Number(results?.[2]?.[1]), results?.[3]?.[1] as string[], limit + 1, windowSeconds, now);
  }

  async peek(subject: string, limit: number, windowSeconds = 60, now = Date.now()): Promise<RateDecision> {
    const key = keys.rateLimit(this.name, subject);
    const results = await this.redis
      .multi()
      .zremrangebyscore(key, '-inf', now - windowSeconds * 1000)
      .zcard(key)
      .zrange(key, 0, 0, 'WITHSCORES')
      .exec();
    return this.decide(Number(results?.[1]?.[1]), results?.[2]?.[1] as string[], limit, windowSeconds, now);
  }

  /** Allowed while fewer than `ceiling` events are in the window. */
  private decide(
    count: number,
    oldest: string[] | undefined,
    ceiling: number,
    windowSeconds: number,
    now: number,
  ): RateDecision {
    const oldestAt = Number(oldest?.[1] ?? now);
    const retryAfterSeconds = Math.max(1, Math.ceil((oldestAt + windowSeconds * 1000 - now) / 1000));
    return { allowed: count < ceiling, retryAfterSeconds };
  }
}
