import type { Redis } from 'ioredis';
import { keys } from '../../core/keys.ts';
import { acquireOwnerSlot } from '../../store/lua.ts';

export interface OwnerLease {
  release(): Promise<void>;
}

/**
 * How many of one owner's jobs a node runs at once, so one tenant cannot hold every worker
 * slot (four clones from a server that never answers used to delay everyone). Each running job
 * holds a lease: a member of a sorted set scored by its expiry (Redis's clock), renewed while
 * the job runs and removed when it ends; a worker that dies leaves a lease that simply expires.
 */
export class OwnerSlots {
  constructor(
    private readonly redis: Redis,
    private readonly node: string,
    /** Jobs of one owner at once (GASPER_JOBS_PER_OWNER). */
    private readonly limit: number,
    /** How long a lease lives without renewal: the longest a dead worker's slot stays taken. */
    private readonly leaseMs = 30_000,
  ) {}

  private async take(owner: string, job: string): Promise<boolean> {
    const taken = await this.redis.eval(
      acquireOwnerSlot,
      1,
      keys.ownerSlots(this.node, owner),
      String(this.leaseMs),
      String(this.limit),
      job,
    );
    return taken === 1;
  }

  /** A lease for `job`, renewed until released; undefined when the owner is at the limit. */
  async acquire(owner: string, job: string): Promise<OwnerLease | undefined> {
    if (!(await this.take(owner, job))) return undefined;
    let renewing: Promise<unknown> = Promise.resolve();
    const renew = setInterval(
      () => {
        // Renewing is taking again with the same member: it is refreshed, never refused.
        renewing = this.take(owner, job).catch(() => {});
      },
      Math.max(100, Math.floor(this.leaseMs / 3)),
    );
    renew.unref();
    return {
      release: async () => {
        clearInterval(renew);
        await renewing;
        await this.redis.zrem(keys.ownerSlots(this.node, owner), job).catch(() => {});
      },
    };
  }
}
