import { z } from 'zod';

/**
 * What an operator sets on an app beyond its source and commands: how many instances, how much
 * CPU and memory each gets, and where its health check looks. Every field is optional in the
 * document: absent means "the node's default", resolved when containers are created (see
 * core/resources.ts), so an admin who changes a default changes it for apps that kept it.
 */
export const resourcesSchema = z.object({
  /** CPU cores (fractions allowed): Docker NanoCpus. */
  cpu: z.number().optional(),
  /** Memory limit in MiB; swap is disabled (MemorySwap = Memory). */
  memory: z.number().int().optional(),
});
export type Resources = z.infer<typeof resourcesSchema>;

export const healthCheckSchema = z.object({
  /** HTTP path probed; unset: any response on `/` counts as healthy. */
  path: z.string().optional(),
});
export type HealthCheck = z.infer<typeof healthCheckSchema>;

export const lifecycleSettingsSchema = z.object({
  /** Desired number of containers (the API field `instances`); `instances` holds the running ones. */
  instanceCount: z.number().int().optional(),
  resources: resourcesSchema.optional(),
  healthCheck: healthCheckSchema.optional(),
  /**
   * Desired count per process type (the API field `processes`, core/formation.ts); `web` here
   * wins over `instanceCount`. Absent: one web, zero of the other types.
   */
  processes: z.record(z.string(), z.number().int()).optional(),
});
export type LifecycleSettings = z.infer<typeof lifecycleSettingsSchema>;
