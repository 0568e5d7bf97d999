import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';
import { healthCheckSchema, resourcesSchema } from './lifecycle-settings.ts';

/**
 * `superseded`: it served, then another release did. `cancelled`: a newer deploy (or the app's
 * deletion) replaced it before it served; not a failure, so it must not read as one.
 */
export const releaseStatuses = ['building', 'starting', 'active', 'superseded', 'cancelled', 'failed'] as const;
export type ReleaseStatus = (typeof releaseStatuses)[number];

/** What a release ran with. Env values are masked here; the sealed ones are kept apart for rollbacks. */
export const releaseConfigSchema = z.object({
  /** Absent: the release was built from the app's Dockerfile and the app names no runtime. */
  runtime: z.string().optional(),
  /** Absent in records from before Dockerfile builds: `runtime`. */
  builder: z.enum(['dockerfile', 'runtime']).optional(),
  image: z.string(),
  repo: z.object({ url: z.string(), branch: z.string().optional(), path: z.string().optional() }),
  build: z.array(z.string()),
  /** The command the containers ran (defaults resolved). */
  run: z.string(),
  /**
   * The release's process types and their commands (core/formation.ts), `web`'s being `run`;
   * absent in records from before process types: web only. No `web`: the release has no web process.
   */
  processes: z.record(z.string(), z.string()).optional(),
  port: z.number().int(),
  env: z.record(z.string(), z.string()),
  instances: z.number().int(),
  resources: resourcesSchema.required(),
  healthCheck: healthCheckSchema,
});
export type ReleaseConfig = z.infer<typeof releaseConfigSchema>;

/**
 * One release: a build of one commit with one configuration. Every deploy makes one; a rollback
 * makes an older one active again (its directory is still on disk), without building.
 */
export const releaseRecordSchema = z.object({
  id: z.string(),
  app: z.string(),
  status: z.enum(releaseStatuses),
  commit: z.string().optional(),
  config: releaseConfigSchema,
  /**
   * The web startup check app.json gave this release (when the app set no health check path):
   * a restart or rollback of the release checks the same (release-plan.ts).
   */
  appJsonHealthCheck: z
    .object({
      path: z.string(),
      content: z.string().optional(),
      timeoutMs: z.number().optional(),
      attempts: z.number().int().optional(),
    })
    .optional(),
  /** Env values as stored in the app (encrypted); never returned by the API. */
  sealedEnv: z.record(z.string(), z.string()),
  error: z.string().optional(),
  /** The deploy job's log: clone, build output, start, health, switch. */
  buildLog: z.array(z.string()),
  job: z.string().optional(),
  /** False once the directory was pruned (GASPER_KEEP_RELEASES): no rollback to it then. */
  onDisk: z.boolean(),
  timings: z.object({
    createdAt: z.string(),
    builtAt: z.string().optional(),
    healthyAt: z.string().optional(),
    finishedAt: z.string().optional(),
    durationMs: z.number().optional(),
    /** Each time the release became the serving one (deploy, rollbacks). */
    activatedAt: z.array(z.string()),
  }),
});
export type ReleaseRecord = z.infer<typeof releaseRecordSchema>;

/** Records kept in Redis per app (directories on disk are fewer: GASPER_KEEP_RELEASES). */
const RECORDS_KEPT = 50;
/** Build logs are capped so one noisy build cannot bloat Redis. */
export const BUILD_LOG_LINES = 2000;

export const maskedValue = '••••••';

/** Release records in Redis: one hash per app, release id → JSON. */
export class ReleaseStore {
  constructor(private readonly redis: Redis) {}

  async put(record: ReleaseRecord): Promise<void> {
    const parsed = releaseRecordSchema.parse({ ...record, buildLog: record.buildLog.slice(-BUILD_LOG_LINES) });
    await this.redis.hset(keys.appReleases(record.app), record.id, JSON.stringify(parsed));
    const ids = (await this.redis.hkeys(keys.appReleases(record.app))).sort();
    if (ids.length > RECORDS_KEPT)
      await this.redis.hdel(keys.appReleases(record.app), ...ids.slice(0, ids.length - RECORDS_KEPT));
  }

  async get(app: string, id: string): Promise<ReleaseRecord | undefined> {
    const raw = await this.redis.hget(keys.appReleases(app), id);
    return raw ? releaseRecordSchema.parse(JSON.parse(raw)) : undefined;
  }

  /** Newest first. */
  async list(app: string): Promise<ReleaseRecord[]> {
    const all = await this.redis.hvals(keys.appReleases(app));
    return all.map((raw) => releaseRecordSchema.parse(JSON.parse(raw))).sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  /** Read-modify-write of one record (jobs of one app run one at a time, so no CAS is needed). */
  async update(
    app: string,
    id: string,
    mutate: (r: ReleaseRecord) => ReleaseRecord,
  ): Promise<ReleaseRecord | undefined> {
    const current = await this.get(app, id);
    if (!current) return undefined;
    const next = mutate(current);
    await this.put(next);
    return next;
  }
}
