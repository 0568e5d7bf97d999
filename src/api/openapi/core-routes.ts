import { z } from 'zod';
import { appStatuses } from '../../store/app-document.ts';
import { createAppRequest } from '../app-request.ts';
import { apiRoutes } from './registry.ts';

/** Response shapes, for the document only (views.ts builds them). */
export const jobRefSchema = z.object({ id: z.string(), url: z.string() });

export const appViewSchema = z.object({
  name: z.string(),
  status: z.enum(appStatuses),
  url: z.string(),
  repo: z.object({
    url: z.string(),
    branch: z.string().optional(),
    path: z.string().optional().describe('the folder of the repository the app is, seen as /app'),
    hasToken: z.boolean().describe('whether repo.token is set; it is never returned'),
  }),
  runtime: z.string().nullable().describe('null: built from its Dockerfile only'),
  builder: z.enum(['auto', 'dockerfile', 'runtime']),
  dockerfile: z.object({ path: z.string().optional(), context: z.string().optional() }).optional(),
  buildArgs: z.array(z.string()).optional(),
  build: z.array(z.string()).nullable(),
  run: z.string().nullable(),
  port: z.number().int(),
  envKeys: z.array(z.string()).describe('names of the env variables; values are never returned'),
  node: z.string().describe('the primary node: where the deploy job to poll runs'),
  placement: z.array(z.string()).describe('the node of each instance, spread over the nodes with room'),
  release: z.string().nullable(),
  commit: z.string().nullable(),
  instances: z.array(
    z.object({
      node: z.string(),
      host: z.string(),
      port: z.number().int().describe('0 for a process type other than web (no port)'),
      container: z.string(),
      process: z.string().describe('the process type: web, or a Procfile type such as worker'),
    }),
  ),
  formation: z
    .object({
      desired: z
        .record(z.string(), z.number().int())
        .describe('containers asked for per process type (web: instances)'),
      running: z
        .record(z.string(), z.number().int())
        .nullable()
        .describe('per type the current release declares, how many run (0: declared, not scaled); null: web only'),
    })
    .describe('process types: set with PATCH {"processes": {"worker": 1}}; others run 0 until asked'),
  lastError: z.string().nullable(),
  lastJob: jobRefSchema.nullable(),
  volumes: z
    .array(
      z.object({
        name: z.string(),
        path: z.string(),
        size: z.number().int().nullable(),
        usedBytes: z.number().nullable().optional().describe("GET /apps/:name: from the node's last disk measurement"),
        overSize: z.boolean().optional().describe('GET /apps/:name: over `size` (reported, not enforced)'),
      }),
    )
    .optional()
    .describe('persistent volumes: an app with any runs all its instances on `node`, where they are'),
  webhook: z
    .object({
      createdAt: z.string(),
      lastPushAt: z.string().nullable().describe('when GitHub received the newest push deployed (its pushed_at)'),
    })
    .nullable()
    .describe('set up by POST /apps/{name}/webhook; the secret is never shown again'),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const jobViewSchema = z.object({
  id: z.string(),
  type: z.string(),
  queue: z.string(),
  state: z.string().describe('waiting, active, delayed, completed or failed'),
  progress: z.object({ percent: z.number(), step: z.string() }),
  attempts: z.object({ made: z.number().int(), max: z.number().int() }),
  log: z.array(z.string()),
  result: z.unknown(),
  error: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  node: z
    .object({
      id: z.string(),
      state: z.enum(['up', 'down', 'unknown']),
      draining: z.boolean(),
      heartbeatAt: z.string().nullable(),
    })
    .nullable()
    .describe(
      'the node whose queue holds the job; null for the cluster-wide `certificates` queue, which any node serves',
    ),
  blocked: z
    .string()
    .nullable()
    .describe(
      'while the job is unfinished and its node is down: whether it waits for the node or is being ended, and why',
    ),
});

const appAndJob = z.object({ app: appViewSchema, job: jobRefSchema });
const name = { name: 'the app name' };

// The deploy spine's routes (src/api/app.ts, routes/apps.ts, routes/jobs.ts).
apiRoutes.add(
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: 200 when Redis answers',
    tags: ['meta'],
    auth: 'none',
    responses: { 200: { description: 'Redis answers', schema: z.object({ ok: z.literal(true) }) } },
  },
  {
    method: 'post',
    path: '/apps',
    summary: 'Create and deploy an app',
    tags: ['apps'],
    auth: 'admin',
    description: 'Validates the request, stores the app and enqueues its first deploy on a node. Poll the job.',
    body: createAppRequest({ allowLocalRepos: false }),
    responses: {
      202: { description: 'app stored, deploy enqueued', schema: appAndJob },
      400: { description: 'a field is invalid (`fields` names it)' },
      409: { description: 'the name is taken' },
      503: { description: 'no node worker is alive' },
    },
  },
  {
    method: 'get',
    path: '/apps',
    summary: 'List apps',
    tags: ['apps'],
    auth: 'admin',
    responses: { 200: { description: 'every app', schema: z.object({ apps: z.array(appViewSchema) }) } },
  },
  {
    method: 'get',
    path: '/apps/:name',
    summary: 'Show an app',
    tags: ['apps'],
    auth: 'admin',
    params: name,
    responses: {
      200: { description: 'the app', schema: z.object({ app: appViewSchema }) },
      404: { description: 'no such app' },
    },
  },
  {
    method: 'delete',
    path: '/apps/:name',
    summary: 'Delete an app',
    tags: ['apps'],
    auth: 'admin',
    params: name,
    description:
      'Enqueues the removal of containers, release directories, route and keys. Repeating it returns the same job.',
    responses: { 202: { description: 'deletion enqueued', schema: appAndJob }, 404: { description: 'no such app' } },
  },
  {
    method: 'get',
    path: '/jobs/:id',
    summary: 'A job: state, progress, log',
    tags: ['jobs'],
    auth: 'admin',
    params: { id: 'the job id' },
    responses: {
      200: { description: 'the job', schema: z.object({ job: jobViewSchema }) },
      404: { description: 'no such job' },
    },
  },
);
