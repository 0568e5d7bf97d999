import { z } from 'zod';
import { appNameProblem } from '../core/naming.ts';
import { branchProblem, repoUrlProblem } from '../core/repo-url.ts';
import { repoPathProblem } from '../core/repo-path.ts';
import { defaultResourcePolicy, type ResourcePolicy } from '../core/resources.ts';
import { runtimeNames } from '../core/runtimes.ts';
import { edgeFields } from './app-edge.ts';
import { buildArgsField, builderField, dockerfileField, runtimeOrDockerfile } from './builder-fields.ts';
import { lifecycleFields } from './lifecycle-fields.ts';
import { appVolumesField } from '../core/app-volumes.ts';
import { repoTokenField, repoUsernameField } from './repo-settings.ts';

/** Adds a custom problem check to a string schema, so messages come from the pure checkers. */
export const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message });
  });

const envName = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
const reservedEnv = new Set(['PORT']);

export function envNameProblem(name: string): string | undefined {
  if (name === '__proto__') return '__proto__ cannot be a variable name';
  if (!envName.test(name)) return 'variable names are letters, digits and _ (not starting with a digit, at most 256)';
  if (reservedEnv.has(name)) return `${name} is set by Gasper`;
  return undefined;
}

/**
 * The env map's own rules, for `POST /apps` and `PATCH /apps/:name`: at most 200 variables, each
 * name valid. Checked here rather than as the record's key schema, whose messages zod replaces.
 */
function refineEnvNames(env: unknown, ctx: z.RefinementCtx): void {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    ctx.addIssue({ code: 'custom', message: 'an object of variable names to values' });
    return;
  }
  const names = Object.keys(env);
  if (names.length > 200) ctx.addIssue({ code: 'custom', message: 'at most 200 variables' });
  for (const name of names) {
    const message = envNameProblem(name);
    if (message) ctx.addIssue({ code: 'custom', path: [name], message });
  }
}

/**
 * An env map. Its names are checked on the object as sent, before zod builds its own copy: an own
 * `__proto__` key (JSON.parse makes one) would vanish from that copy without a word, and a
 * variable the user set must never be dropped silently.
 */
export function envMap<V extends z.ZodType>(value: V) {
  return z.unknown().superRefine(refineEnvNames).pipe(z.record(z.string(), value));
}

/** A runtime Gasper has images for (core/runtimes.ts); `POST /apps` and `PATCH` share it. */
export const runtimeField = z.string().refine((r) => runtimeNames.includes(r), {
  message: `unknown runtime; one of: ${runtimeNames.join(', ')}`,
});

/** The body of `POST /apps`. */
export function createAppRequest(options: { allowLocalRepos: boolean; resources?: ResourcePolicy }) {
  return z
    .object({
      name: checked(appNameProblem),
      repo: z
        .object({
          url: checked((url) => repoUrlProblem(url, { allowLocal: options.allowLocalRepos })),
          branch: checked(branchProblem).optional(),
          /** The folder of the repository the app is (monorepos): the build and the app see it as /app. */
          path: checked(repoPathProblem).optional(),
          /** A token for an https repository: sealed, never shown again (repo-settings.ts). */
          token: repoTokenField.optional(),
          username: repoUsernameField.optional(),
        })
        .strict(),
      runtime: runtimeField.optional(),
      builder: builderField.optional(),
      dockerfile: dockerfileField.optional(),
      buildArgs: buildArgsField.optional(),
      build: z.array(z.string().min(1).max(4096)).max(50).optional(),
      run: z.string().min(1).max(4096).optional(),
      env: envMap(z.string().max(32 * 1024)).optional(),
      port: z.number().int().min(1).max(65535).optional(),
      /** Persistent volumes: all instances run on one node, where the volumes are (core/app-volumes.ts). */
      volumes: appVolumesField.optional(),
      ...lifecycleFields(options.resources ?? defaultResourcePolicy),
      ...edgeFields,
    })
    .strict()
    .superRefine((body, ctx) => {
      // `auto` without a runtime is accepted: only the clone (on the worker) tells whether there
      // is a Dockerfile, and without one the deploy fails with the same words (builder-choice.ts).
      if (!body.runtime && body.builder === 'runtime')
        ctx.addIssue({
          code: 'custom',
          path: ['runtime'],
          message: `builder "runtime" needs a runtime: ${runtimeOrDockerfile}`,
        });
    });
}
export type CreateAppRequest = z.infer<ReturnType<typeof createAppRequest>>;
