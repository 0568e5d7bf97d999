import { z } from 'zod';
import { notProcessTypes, processNamePattern } from '../core/formation.ts';
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
    /**
     * Containers per process type (core/formation.ts): `{"web": 2, "worker": 1}`. Names as in a
     * Procfile; `web` is the same count as `instances` (and may be 0 here). Types not named keep
     * their count; unset, a type runs 0 (web: 1).
     */
    processes: z
      .record(
        z.string(),
        z
          .number()
          .int()
          .min(0, 'at least 0')
          .max(policy.maxInstances, `at most ${policy.maxInstances} (GASPER_MAX_INSTANCES)`),
      )
      // Names are checked here rather than by the key schema, so the 400 names the key with its own message.
      .superRefine((processes, ctx) => {
        for (const name of Object.keys(processes)) {
          const message = !processNamePattern.test(name)
            ? 'a Procfile process name: 1 to 30 letters, digits, _ or -'
            : notProcessTypes.has(name)
              ? 'release is the release phase, not a process type'
              : undefined;
          if (message) ctx.addIssue({ code: 'custom', path: [name], message });
        }
      })
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
