import { z } from 'zod';
import { instanceSchema } from '../events/schemas.ts';
import { lifecycleSettingsSchema } from './lifecycle-settings.ts';
import { appVolumeSchema } from '../core/app-volumes.ts';

export const appStatuses = ['queued', 'deploying', 'running', 'failed', 'deleting', 'stopped', 'crashed'] as const;
export type AppStatus = (typeof appStatuses)[number];

/**
 * An app as Redis keeps it: the desired state (repo, commands, env) written by the API and the
 * observed state (status, commit, instances) written by the node worker. Env values are sealed
 * (see core/secret-box.ts); they are opened only by the worker, when it creates containers.
 */
export const appDocumentSchema = z.object({
  name: z.string(),
  /**
   * Identity of this incarnation of the name: an app deleted and created again is another app,
   * so jobs and job ids of the first can never act on (or be mistaken for) the second.
   */
  uid: z.string(),
  /** The user who owns the app; documents from before users existed belong to the admin. */
  owner: z.string().default('admin'),
  /**
   * `url` never carries credentials: a token (and its user name) is `sealedCredentials`
   * (core/repo-credentials.ts), opened only by the worker when it clones. `path`: the folder of
   * the repository the app is (core/repo-path.ts), normalized; unset: the root.
   */
  repo: z.object({
    url: z.string(),
    branch: z.string().optional(),
    path: z.string().optional(),
    sealedCredentials: z.string().optional(),
  }),
  /** Absent for an app built from its Dockerfile only (workers/apps/builder-choice.ts). */
  runtime: z.string().optional(),
  /** How releases are built: `auto` (absent) takes the Dockerfile when the repository has one. */
  builder: z.enum(['auto', 'dockerfile', 'runtime']).optional(),
  /** Where the Dockerfile and its build context are, relative to the repository root. */
  dockerfile: z.object({ path: z.string().optional(), context: z.string().optional() }).optional(),
  /** Env variables passed to a Dockerfile build as build args (never the others). */
  buildArgs: z.array(z.string()).optional(),
  /** The app named no port: a Dockerfile build listens on the image's EXPOSE, else `port`. */
  portFromImage: z.boolean().optional(),
  build: z.array(z.string()).optional(),
  run: z.string().optional(),
  port: z.number().int(),
  sealedEnv: z.record(z.string(), z.string()),
  /** The primary node: where the deploy job a client polls runs (core/app-placement.ts). */
  node: z.string(),
  /** The node of each instance; absent in documents from before spreading, meaning all on `node`. */
  placement: z.array(z.string()).optional(),
  status: z.enum(appStatuses),
  /** Release the latest deploy job builds; the current one is `release`. */
  pendingRelease: z.string().optional(),
  release: z.string().optional(),
  commit: z.string().optional(),
  instances: z.array(instanceSchema),
  /**
   * What the current release runs: the count of each process type it declares (core/formation.ts
   * `resolveFormation`), set by the switch. Absent: a release from before process types (web only).
   */
  formation: z.record(z.string(), z.number().int()).optional(),
  lastError: z.string().optional(),
  /**
   * app.json's `scripts.postdeploy` run (workers/apps/postdeploy.ts): claimed before it starts, so
   * it runs at most once in the app's life; `exitCode` and `error` once it finished.
   */
  postdeploy: z
    .object({
      release: z.string(),
      job: z.string(),
      startedAt: z.string(),
      finishedAt: z.string().optional(),
      exitCode: z.number().int().optional(),
      error: z.string().optional(),
    })
    .optional(),
  lastJob: z.string().optional(),
  /**
   * app.json's `formation`, asked by the app's first deploy because the app had none of its own
   * (workers/apps/app-json-formation.ts); the control plane applies it and removes this
   * (api/app-json-formation.ts).
   */
  formationAsk: z.object({ processes: z.record(z.string(), z.number().int()), release: z.string() }).optional(),
  /**
   * `app.json`: `processes` came from app.json's formation, not from the user; a PATCH of
   * `processes` or `instances` removes it.
   */
  formationSource: z.literal('app.json').optional(),
  /**
   * The push webhook's secret, sealed: HMAC verification needs it in the clear, so not hashed.
   * `lastPush`: the newest push deployed (api/webhooks/push-decision.ts `orderPush`).
   */
  webhook: z
    .object({
      sealedSecret: z.string(),
      createdAt: z.string(),
      lastPush: z.object({ pushedAt: z.number(), commits: z.array(z.string()) }).optional(),
    })
    .optional(),
  /**
   * How the proxy serves it over HTTPS (app.edge events, src/api/app-edge.ts): `redirect` sends
   * plain HTTP to https; `hsts` adds Strict-Transport-Security. Absent: `allow`, no HSTS.
   */
  https: z.enum(['allow', 'redirect']).optional(),
  hsts: z.boolean().optional(),
  /** Databases linked to the app: their URLs are in its env, and it joins their networks. */
  databases: z.array(z.string()).optional(),
  /**
   * Persistent volumes (core/app-volumes.ts), mounted in every container of the app. An app with
   * volumes runs all its instances on its primary node, where the Docker volumes are.
   */
  volumes: z.array(appVolumeSchema).optional(),
  /** Instance count, resources and health check: optional, defaults resolved by the worker. */
  ...lifecycleSettingsSchema.shape,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AppDocument = z.infer<typeof appDocumentSchema>;
