import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';
import { putMetrics } from './lua.ts';

const sampleSchema = z.object({
  at: z.string(),
  cpu: z.object({ cores: z.number(), limitCores: z.number(), percent: z.number() }).nullable(),
  memory: z.object({ usageBytes: z.number(), limitBytes: z.number(), percent: z.number() }).nullable(),
});
/** One reading of an instance: CPU as a rate over the last interval, memory at that moment. */
export type ResourceSample = z.infer<typeof sampleSchema>;

export const instanceMetricsSchema = z.object({
  instance: z.string(),
  node: z.string(),
  release: z.string(),
  samples: z.array(sampleSchema),
});
export type InstanceMetrics = z.infer<typeof instanceMetricsSchema>;

/**
 * What `record` and `prune` publish on the app's live channel (keys.appMetricsLive), read by
 * metrics follows: a new sample of an instance, or instances gone.
 */
export const liveMetricsMessageSchema = z.union([
  z.object({ instance: z.string(), node: z.string(), release: z.string(), sample: sampleSchema }),
  z.object({ removed: z.array(z.string()) }),
]);
export type LiveMetricsMessage = z.infer<typeof liveMetricsMessageSchema>;

/**
 * The recent resource samples of an app's instances: one hash per app, one field per instance
 * holding its last `history` samples. Each instance is written only by the worker of its node,
 * so the read-modify-write of a field has a single writer.
 */
export class AppMetricsStore {
  constructor(
    private readonly redis: Redis,
    private readonly history = 60,
  ) {}

  async record(
    app: string,
    instance: { instance: string; node: string; release: string },
    sample: ResourceSample,
  ): Promise<boolean> {
    const key = keys.appMetrics(app);
    const raw = await this.redis.hget(key, instance.instance);
    const previous = raw ? instanceMetricsSchema.safeParse(JSON.parse(raw)) : undefined;
    const samples = [...(previous?.success ? previous.data.samples : []), sample].slice(-this.history);
    const value: InstanceMetrics = { ...instance, samples };
    const live: LiveMetricsMessage = { ...instance, sample };
    const written = await this.redis.eval(
      putMetrics,
      2,
      keys.app(app),
      key,
      instance.instance,
      JSON.stringify(value),
      keys.appMetricsLive(app),
      JSON.stringify(live),
    );
    return written === 1;
  }

  /** Drops the instances of `node` that are not in `current` (their containers are gone). */
  async prune(app: string, node: string, current: ReadonlySet<string>): Promise<void> {
    const stale = (await this.list(app))
      .filter((i) => i.node === node && !current.has(i.instance))
      .map((i) => i.instance);
    if (stale.length === 0) return;
    const removed: LiveMetricsMessage = { removed: stale };
    await this.redis
      .multi()
      .hdel(keys.appMetrics(app), ...stale)
      .publish(keys.appMetricsLive(app), JSON.stringify(removed))
      .exec();
  }

  async list(app: string): Promise<InstanceMetrics[]> {
    const all = await this.redis.hgetall(keys.appMetrics(app));
    return Object.values(all)
      .flatMap((raw) => {
        const parsed = instanceMetricsSchema.safeParse(JSON.parse(raw));
        return parsed.success ? [parsed.data] : [];
      })
      .sort((a, b) => a.instance.localeCompare(b.instance));
  }
}
