import { z } from 'zod';
import { appNameProblem } from '../core/naming.ts';
import { branchProblem, repoUrlProblem } from '../core/repo-url.ts';
import { runtimeNames } from '../core/runtimes.ts';

/** Adds a custom problem check to a string schema, so messages come from the pure checkers. */
const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message });
  });

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const reservedEnv = new Set(['PORT']);

/** The body of `POST /apps`. */
export function createAppRequest(options: { allowLocalRepos: boolean }) {
  return z
    .object({
      name: checked(appNameProblem),
      repo: z
        .object({
          url: checked((url) => repoUrlProblem(url, { allowLocal: options.allowLocalRepos })),
          branch: checked(branchProblem).optional(),
        })
        .strict(),
      runtime: z.string().refine((r) => runtimeNames.includes(r), {
        message: `unknown runtime; one of: ${runtimeNames.join(', ')}`,
      }),
      build: z.array(z.string().min(1).max(4096)).max(50).optional(),
      run: z.string().min(1).max(4096).optional(),
      env: z
        .record(
          z.string().max(256).regex(envName, 'variable names are letters, digits and _').refine((k) => !reservedEnv.has(k), 'PORT is set by Gasper'),
          z.string().max(32 * 1024),
        )
        .refine((env) => Object.keys(env).length <= 200, 'at most 200 variables')
        .optional(),
      port: z.number().int().min(1).max(65535).optional(),
    })
    .strict();
}
export type CreateAppRequest = z.infer<ReturnType<typeof createAppRequest>>;
