import type { Redis } from 'ioredis';
import { keys } from '../../core/keys.ts';

/**
 * How long a delivered payload is remembered. GitHub redelivers on request for up to 3 days;
 * older replays are refused by the push order (push-decision.ts `orderPush`).
 */
export const deliveryTtlSeconds = 7 * 24 * 3600;

const pending = 'pending';

export type Claim = { claimed: true } | { claimed: false; jobId: string | undefined };

/**
 * Remembers which payloads an app deployed, by the SHA-256 of the signed body, so a redelivery
 * (GitHub's retry, a "Redeliver" click, or a captured body sent again under a new
 * `X-GitHub-Delivery`, which the signature does not cover) does not deploy twice. `SET NX`
 * decides the one request that deploys; the others get the job it enqueued. Keyed by the app's
 * uid: two apps may get the same push, and a name created again is another app.
 */
export class Deliveries {
  constructor(private readonly redis: Redis) {}

  /** Claims the payload; when another request has it, waits briefly for its job id. */
  async claim(uid: string, digest: string): Promise<Claim> {
    const key = keys.webhookPayload(uid, digest);
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

  async record(uid: string, digest: string, jobId: string): Promise<void> {
    await this.redis.set(keys.webhookPayload(uid, digest), jobId, 'EX', deliveryTtlSeconds);
  }

  /** Forgets a claim whose deploy did not happen, so GitHub's redelivery can try again. */
  async release(uid: string, digest: string): Promise<void> {
    await this.redis.del(keys.webhookPayload(uid, digest));
  }
}
