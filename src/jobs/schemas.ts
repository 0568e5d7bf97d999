import { z } from 'zod';

/**
 * Job payloads, declared once: the API enqueues them, the node worker parses what arrives.
 * A job carries the app's name and the release to converge to, never a diff: the worker reads
 * the desired state from Redis (reconcile, don't react).
 */
export const deployAppJob = {
  name: 'deploy-app',
  schema: z.object({
    app: z.string(), uid: z.string(), release: z.string(),
    /** Deploy exactly this commit (a push webhook's `after`) instead of the branch head. */
    commit: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  }),
} as const;

export const deleteAppJob = {
  name: 'delete-app',
  schema: z.object({ app: z.string(), uid: z.string() }),
} as const;

export type DeployAppData = z.infer<typeof deployAppJob.schema>;
export type DeleteAppData = z.infer<typeof deleteAppJob.schema>;

export const jobTypes = [deployAppJob.name, deleteAppJob.name] as const;
export type JobType = (typeof jobTypes)[number];

/** What a job reports as progress: a percentage and the step it is in. */
export const jobProgressSchema = z.object({ percent: z.number().min(0).max(100), step: z.string() });
export type JobProgress = z.infer<typeof jobProgressSchema>;
