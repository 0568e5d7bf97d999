import { z } from 'zod';
import { minCpu, minMemoryMb, type ResourcePolicy } from '../core/resources.ts';

/**
 * The request fields that set instances, resources and the health check, shared by
 * `POST /apps` and `PATCH /apps/:name`. Maximums come from the admin's configuration.
 */
export function lifecycleFields(policy: ResourcePolicy) {
  return {
    instances: z
      .number()
      .int()
      .min(1, 'at least 1 (use POST /apps/:name/stop to stop an app)')
      .max(policy.maxInstances, `at most ${policy.maxInstances} (GASPER_MAX_INSTANCES)`)
      .optional(),
    resources: z
      .object({
        cpu: z
          .number()
          .min(minCpu, `at least ${minCpu}`)
          .max(policy.maxCpu, `at most ${policy.maxCpu} (GASPER_MAX_CPU)`)
          .optional(),
        memory: z
          .number()
          .int('a whole number of MiB')
          .min(minMemoryMb, `at least ${minMemoryMb} (MiB)`)
          .max(policy.maxMemoryMb, `at most ${policy.maxMemoryMb} (MiB, GASPER_MAX_MEMORY_MB)`)
          .optional(),
      })
      .strict()
      .optional(),
    healthCheck: z
      .object({
        path: z
          .string()
          .max(1024)
          .regex(/^\/[\x21-\x7e]*$/, 'must start with / and hold printable characters without spaces')
          .optional(),
      })
      .strict()
      .optional(),
  };
}
