import { z } from 'zod';
import { builders, dockerfileInContext, dockerfilePaths, repoPathProblem } from '../workers/apps/builder-choice.ts';
import { envNameProblem } from './app-request.ts';

const repoPath = z.string().superRefine((value, ctx) => {
  const message = repoPathProblem(value);
  if (message) ctx.addIssue({ code: 'custom', message });
});

/** The builder fields of `POST /apps` and `PATCH /apps/:name` (workers/apps/builder-choice.ts). */
export const builderField = z
  .enum(builders)
  .describe(
    'auto (default): the Dockerfile when the repository has one, else the runtime; dockerfile: always the Dockerfile; runtime: always the runtime',
  );

export const dockerfileField = z
  .object({
    path: repoPath
      .optional()
      .describe('the Dockerfile, relative to the repository root (default: Dockerfile in the context)'),
    context: repoPath.optional().describe('the build context, relative to the repository root (default: the root)'),
  })
  .strict()
  .superRefine((value, ctx) => {
    const { dockerfile, context } = dockerfilePaths(value);
    if (dockerfileInContext(dockerfile, context) === undefined)
      ctx.addIssue({ code: 'custom', path: ['path'], message: `the Dockerfile must be inside the context ${context}` });
  })
  .describe('where the Dockerfile and its build context are, for monorepos');

export const buildArgsField = z
  .array(
    z.string().superRefine((name, ctx) => {
      const message = envNameProblem(name);
      if (message) ctx.addIssue({ code: 'custom', message });
    }),
  )
  .max(100)
  .describe('names of env variables passed to a Dockerfile build as build args; no other variable is');

/** The message for an app that can be built neither way, on the `runtime` field. */
export const runtimeOrDockerfile =
  'name a runtime, or build from a Dockerfile (builder "dockerfile" or "auto" with a Dockerfile in the repository)';
