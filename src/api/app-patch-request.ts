import { z } from 'zod';
import { defaultResourcePolicy, type ResourcePolicy } from '../core/resources.ts';
import { edgeFields } from './app-edge.ts';
import { envMap } from './app-request.ts';
import { buildArgsField, builderField, dockerfileField } from './builder-fields.ts';
import { lifecycleFields } from './lifecycle-fields.ts';
import { appVolumesField } from '../core/app-volumes.ts';
import { repoTokenField, repoUsernameField } from './repo-settings.ts';

/**
 * The body of `PATCH /apps/:name`: every field optional, at least one given. `env` is merged
 * into the app's env (a `null` value removes the variable); `build` and `run` replace the
 * app's (`build: []` means no build at all), and `null` goes back to the runtime's default.
 * Add new fields here (and their effect in app-patch.ts).
 */
export function patchAppRequest(options: { resources?: ResourcePolicy } = {}) {
  return z
    .object({
      env: envMap(
        z
          .string()
          .max(32 * 1024)
          .nullable(),
      ).optional(),
      build: z.array(z.string().min(1).max(4096)).max(50).nullable().optional(),
      run: z.string().min(1).max(4096).nullable().optional(),
      builder: builderField.optional(),
      dockerfile: dockerfileField.nullable().optional(),
      buildArgs: buildArgsField.nullable().optional(),
      /** Sets (or with `null` removes) the https repository's token; the next clone uses it. */
      repo: z.object({ token: repoTokenField.nullable(), username: repoUsernameField.optional() }).strict().optional(),
      /**
       * Replaces the app's volumes (a redeploy mounts the new list). A volume left out is unmounted
       * but its data is kept until `DELETE /apps/:name/volumes/:volume`.
       */
      volumes: appVolumesField.optional(),
      ...lifecycleFields(options.resources ?? defaultResourcePolicy),
      /** Applied by the proxies at once (an app.edge event), no redeploy. */
      ...edgeFields,
    })
    .strict()
    .refine((body) => Object.keys(body).length > 0, { message: 'nothing to change: give at least one field' });
}
export type PatchAppRequest = z.infer<ReturnType<typeof patchAppRequest>>;

/** The body of `POST /apps/:name/rollback`. */
export const rollbackRequest = z
  .object({
    release: z
      .string()
      .regex(/^r\d{6}$/, 'a release id such as r000003')
      .optional(),
  })
  .strict();

/** The body of `POST /apps/:name/rebuild`. */
export const rebuildRequest = z
  .object({
    cache: z
      .boolean()
      .optional()
      .describe(
        "false: install dependencies from nothing instead of reusing an earlier release's, and build Go from an empty cache (default true)",
      ),
  })
  .strict();
