import { z } from 'zod';
import { defaultResourcePolicy, type ResourcePolicy } from '../core/resources.ts';
import { edgeFields } from './app-edge.ts';
import { checked, envMap, runtimeField } from './app-request.ts';
import { branchProblem, repoUrlProblem } from '../core/repo-url.ts';
import { repoPathProblem } from '../core/repo-path.ts';
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
export function patchAppRequest(options: { resources?: ResourcePolicy; allowLocalRepos?: boolean } = {}) {
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
      /** Another runtime (its image, build and start conventions): redeploys. */
      runtime: runtimeField.optional(),
      builder: builderField.optional(),
      dockerfile: dockerfileField.nullable().optional(),
      buildArgs: buildArgsField.nullable().optional(),
      /**
       * The repository: another URL, branch (`null`: the repository's default) or folder (`null`:
       * the root) redeploys from it; a token alone (`null` removes it) is used by the next clone.
       */
      repo: z
        .object({
          url: checked((url) => repoUrlProblem(url, { allowLocal: options.allowLocalRepos ?? false })).optional(),
          branch: checked(branchProblem).nullable().optional(),
          path: checked(repoPathProblem).nullable().optional(),
          token: repoTokenField.nullable().optional(),
          username: repoUsernameField.optional(),
        })
        .strict()
        .refine((repo) => Object.keys(repo).length > 0, {
          message: 'nothing to change: give url, branch, path or token',
        })
        .refine((repo) => repo.username === undefined || typeof repo.token === 'string', {
          message: 'goes with repo.token',
          path: ['username'],
        })
        .optional(),
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
