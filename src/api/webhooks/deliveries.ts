import type { Redis } from 'ioredis';
import { keys } from '../../core/keys.ts';

/** How long a delivery id is remembered. GitHub redelivers on request for up to 3 days. */
export const deliveryTtlSeconds = 7 * 24 * 3600;

const pending = 'pending';

export type Claim = { claimed: true } | { claimed: false; jobId: string | undefined };

/**
 * Remembers which `X-GitHub-Delivery` ids were deployed, so a redelivery (GitHub's retry, or a
 * "Redeliver" click) does not deploy twice. `SET NX` decides the one request that deploys; the
 * others get the job it enqueued.
 */
export class Deliveries {
  constructor(private readonly redis: Redis) {}

  /** Claims the delivery; when another request has it, waits briefly for its job id. */
  async claim(id: string): Promise<Claim> {
    const key = keys.webhookDelivery(id);
    if ((await this.redis.set(key, pending, 'EX', deliveryTtlSeconds, 'NX')) === 'OK') return { claimed: true };
    for (let i = 0; i < 20; i++) {
      const value = await this.redis.get(key);
      if (value === null) break; // the claimant gave up: this is a fresh delivery after all
      if (value !== pending) return { claimed: false, jobId: value };
      await new Promise((r) => setTimeout(r, 100));
    }
    return (await this.redis.set(key, pending, 'EX', deliveryTtlSeconds, 'NX')) === 'OK'
      ? { claimed: true }
      : { claimed: false, jobId: undefined };
  }

  async record(id: string, jobId: string): Promise<void> {
    await this.redis.set(keys.webhookDelivery(id), jobId, 'EX', deliveryTtlSeconds);
  }

  /** Forgets a claim whose deploy could not be enqueued, so GitHub's redelivery can try again. */
  async release(id: string): Promise<void> {
    await this.redis.del(keys.webhookDelivery(id));
  }
}
