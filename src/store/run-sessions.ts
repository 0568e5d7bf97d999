import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';

/**
 * Leases of the one-off containers of interactive sessions (`ssh <app>.run@host`,
 * ssh/run-session.ts). The SSH service renews a session's lease while it lasts and drops it at
 * the end; the node's reconciliation (workers/node/reconcile.ts) keeps a session container only
 * while its lease runs, so a container whose SSH service died goes within a lease and a grace.
 */
export class RunSessionStore {
  constructor(private readonly redis: Redis) {}

  /** Holds the lease of `container` for `ttlMs` from `now`. */
  async renew(container: string, ttlMs: number, now = Date.now()): Promise<void> {
    await this.redis.zadd(keys.runSessions, now + ttlMs, container);
  }

  async release(container: string): Promise<void> {
    await this.redis.zrem(keys.runSessions, container);
  }

  /** Containers whose lease still runs at `now` (it runs out at its score); expired leases are dropped on the way. */
  async live(now = Date.now()): Promise<Set<string>> {
    await this.redis.zremrangebyscore(keys.runSessions, '-inf', now);
    return new Set(await this.redis.zrangebyscore(keys.runSessions, `(${now}`, '+inf'));
  }
}
