import { Router } from 'express';
import { z } from 'zod';
import { runtimeCatalog } from '../../core/runtime-catalog.ts';
import { versionSources } from '../../core/runtime-versions.ts';
import { runtimeNames } from '../../core/runtimes.ts';
import { apiRoutes } from '../openapi/registry.ts';

export const runtimeViewSchema = z.object({
  name: z.string().describe('what `runtime` of POST /apps takes'),
  versions: z
    .array(
      z.object({
        version: z.string().describe("what a repository asks for: a Node major, or Debian's one version"),
        exact: z.string().describe('the version the image carries'),
      }),
    )
    .describe('oldest first; empty for a runtime without versions (static)'),
  default: z.string().nullable().describe('the version of an app that asks for none (Node: the current LTS)'),
  chosenBy: z.array(z.string()).describe('the repository files that choose the version, the first found winning'),
});
const runtimesResponse = z.object({ runtimes: z.array(runtimeViewSchema) });

/** The runtimes and their versions: the same for every node (the images are built from one list). */
export function runtimeViews(): z.infer<typeof runtimesResponse> {
  return {
    runtimes: runtimeNames.map((name) => {
      const catalog = runtimeCatalog[name];
      return {
        name,
        versions: (catalog?.versions ?? []).map((version) => ({
          version,
          exact: catalog?.exact[version] ?? version,
        })),
        default: catalog?.default ?? null,
        chosenBy: [...(versionSources[name] ?? [])],
      };
    }),
  };
}

/** `GET /runtimes`: for any signed-in user (it is what POST /apps accepts, no secret). */
export function runtimesRouter(): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.json(runtimeViews());
  });
  return router;
}

apiRoutes.add({
  method: 'get',
  path: '/runtimes',
  summary: 'The runtimes and their versions',
  description:
    'What `runtime` may be, the versions each offers, the default, and the repository files that choose the version (docs/guides/runtimes.md).',
  tags: ['apps'],
  auth: 'admin',
  responses: { 200: { description: 'every runtime', schema: runtimesResponse } },
});
