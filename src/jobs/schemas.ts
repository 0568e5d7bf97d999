import { z } from 'zod';

/**
 * Job payloads, declared once: the API enqueues them, the node worker parses what arrives.
 * A job carries the app's name and the release to converge to, never a diff: the worker reads
 * the desired state from Redis (reconcile, don't react).
 */
export const deployAppJob = {
  name: 'deploy-app',
  schema: z.object({
    app: z.string(),
    uid: z.string(),
    release: z.string(),
    /** Deploy exactly this commit (a push webhook's `after`) instead of the branch head. */
    commit: z
      .string()
      .regex(/^[0-9a-f]{40}$/)
      .optional(),
    /**
     * false (`POST /apps/:name/rebuild {"cache": false}`): install dependencies from nothing,
     * reusing no release's, and empty the app's Go cache first (workers/apps/go-cache.ts).
     */
    cache: z.boolean().optional(),
  }),
} as const;

export const deleteAppJob = {
  name: 'delete-app',
  schema: z.object({ app: z.string(), uid: z.string() }),
} as const;

/**
 * Operations on releases already built (no clone, no build): restart, stop, start, roll back
 * to `release`. `seq` numbers an app's operations, so each request has a fixed job id.
 */
export const appOperations = ['restart', 'stop', 'start', 'rollback'] as const;
export type AppOperation = (typeof appOperations)[number];
export const operateAppJob = {
  name: 'operate-app',
  schema: z.object({
    app: z.string(),
    uid: z.string(),
    op: z.enum(appOperations),
    seq: z.number().int(),
    release: z.string().optional(),
  }),
} as const;

/**
 * A one-off command in a new container of the app's current release (workers/apps/run-app.ts):
 * `POST /apps/:name/run`, or a schedule's run (`schedule`: its id). Its log is the command's
 * output; its result `runResultSchema`.
 */
export const runAppJob = {
  name: 'run-app',
  schema: z.object({
    app: z.string(),
    uid: z.string(),
    command: z.string().min(1),
    schedule: z.string().optional(),
  }),
} as const;

/** What a run job returns: the command's exit code (137 when killed), and how long it ran. */
export const runResultSchema = z.object({
  exitCode: z.number().int(),
  durationMs: z.number().int(),
  timedOut: z.boolean().optional(),
  release: z.string().optional(),
  /** The last lines of output (a schedule's run list shows them). */
  tail: z.array(z.string()).optional(),
});
export type RunResult = z.infer<typeof runResultSchema>;

export type DeployAppData = z.infer<typeof deployAppJob.schema>;
export type RunAppData = z.infer<typeof runAppJob.schema>;
export type DeleteAppData = z.infer<typeof deleteAppJob.schema>;
export type OperateAppData = z.infer<typeof operateAppJob.schema>;

export const jobTypes = [deployAppJob.name, deleteAppJob.name, operateAppJob.name, runAppJob.name] as const;
export type JobType = (typeof jobTypes)[number];

/** What a job reports as progress: a percentage and the step it is in. */
export const jobProgressSchema = z.object({ percent: z.number().min(0).max(100), step: z.string() });
export type JobProgress = z.infer<typeof jobProgressSchema>;

/**
 * Work on one volume of an app, on the app's primary node (where its volumes are): `remove` its
 * Docker volume (the app no longer declares it), `backup` it as a tar stored in Redis, or
 * `restore` a backup (the volume's files are replaced by the backup's).
 */
export const appVolumeJob = {
  name: 'app-volume',
  schema: z.object({
    app: z.string(),
    uid: z.string(),
    volume: z.string(),
    op: z.enum(['remove', 'backup', 'restore']),
    /** The backup's id (`backup`, `restore`). */
    backup: z.string().optional(),
  }),
} as const;
export type AppVolumeData = z.infer<typeof appVolumeJob.schema>;
