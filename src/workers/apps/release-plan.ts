import { placementOf } from '../../core/app-placement.ts';
import { processShare, processSlots, webProcess } from '../../core/formation.ts';
import { splitRepoCredentials } from '../../core/repo-url.ts';
import { resolveResources } from '../../core/resources.ts';
import { appVolumeMounts } from '../../core/app-volumes.ts';
import { runtimeImage, runtimes } from '../../core/runtimes.ts';
import { linkedDatabases } from './database-links.ts';
import { launchDir, launcherCommand } from './launcher.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { maskedValue, type ReleaseConfig, type ReleaseRecord } from '../../store/release-records.ts';
import type { WorkerContext } from '../context.ts';
import type { InstancePlan } from './instances.ts';
import { imageExists } from './dockerfile-build.ts';

/** What an app's containers get besides its own env: the runtime's env, linked databases, the launcher. */
export interface PlanExtras {
  /** Under the app's env (the app may override it): the runtime's conventions (core/runtimes.ts). */
  runtimeEnv?: Record<string, string>;
  /** Over the app's env: DATABASE_URL and the like of linked databases. */
  linkEnv?: Record<string, string>;
  /** Docker networks of linked databases, joined by every instance. */
  networks?: string[];
  /** The release's launch directory, when the command is the launcher (launcher.ts). */
  launchDir?: string;
}

/** The extras of `doc`'s containers for `release` running `command`. */
export async function planExtras(
  ctx: WorkerContext,
  doc: AppDocument,
  release: string,
  command: string,
  /** The release's image was built from the app's Dockerfile: no runtime env, no launcher. */
  fromImage = false,
): Promise<PlanExtras> {
  const links = await linkedDatabases(ctx, doc);
  if (fromImage) return { linkEnv: links.env, networks: links.networks };
  return {
    runtimeEnv: doc.runtime ? runtimes[doc.runtime]?.env : undefined,
    linkEnv: links.env,
    networks: links.networks,
    ...(command === launcherCommand ? { launchDir: launchDir(ctx.releases.appDir(doc.name), release) } : {}),
  };
}

/** The release an app's containers run: which image, command, env and port. */
export interface InstanceInput {
  doc: AppDocument;
  release: string;
  image: string;
  command: string;
  /** The env of the release, sealed; default the app's current env. */
  sealedEnv?: Record<string, string>;
  /** Default the app's current port. */
  port?: number;
  extras?: PlanExtras;
  /** The image was built from the app's Dockerfile (container-spec.ts `fromImage`). */
  fromImage?: boolean;
  /** False: the release declares no web process, so no web instance runs (core/formation.ts). Default true. */
  web?: boolean;
}

/** What an app's containers run with, from its document and the release's command. */
export function planInstances(ctx: WorkerContext, input: InstanceInput): InstancePlan {
  const { doc, release, image, command, sealedEnv = doc.sealedEnv, port = doc.port, extras = {} } = input;
  const own = Object.fromEntries(Object.entries(sealedEnv).map(([k, v]) => [k, ctx.secrets.open(v)]));
  return {
    app: doc.name,
    uid: doc.uid,
    release,
    releaseDir: ctx.releases.releaseDir(doc.name, release),
    image,
    command,
    env: { ...extras.runtimeEnv, ...own, ...extras.linkEnv },
    networks: extras.networks ?? [],
    ...(extras.launchDir ? { launchDir: extras.launchDir } : {}),
    ...(input.fromImage ? { fromImage: true } : {}),
    port,
    // This node's share of the web instances, in slots no other node (nor process type) uses.
    count: input.web === false ? 0 : processShare(placementOf(doc), doc, ctx.options.nodeId, webProcess),
    slots: processSlots(placementOf(doc), doc, ctx.options.nodeId, webProcess),
    resources: resolveResources(doc.resources, ctx.options.lifecycle.resources),
    healthPath: doc.healthCheck?.path,
    // The app's volumes as they are now, whatever the release: a rollback keeps the data's mounts.
    ...(doc.volumes?.length ? { volumes: appVolumeMounts(ctx.scope.installation, doc) } : {}),
  };
}

/** The containers of `release`: its command, env and port as recorded; instances, limits and health from the app. */
export async function planForRelease(
  ctx: WorkerContext,
  doc: AppDocument,
  release: string,
  record: ReleaseRecord | undefined,
): Promise<InstancePlan> {
  if (!record) {
    if (!doc.runtime) throw new ReleaseImageMissingError(`release ${release} has no record: its image is unknown`);
    const command = doc.run ?? launcherCommand;
    const extras = await planExtras(ctx, doc, release, command);
    return planInstances(ctx, { doc, release, image: runtimeImage(doc.runtime, ctx.options), command, extras });
  }
  const fromImage = record.config.builder === 'dockerfile';
  const extras = await planExtras(ctx, doc, release, record.config.run, fromImage);
  const plan = planInstances(ctx, {
    doc,
    release,
    image: record.config.image,
    command: record.config.run,
    sealedEnv: record.sealedEnv,
    port: record.config.port,
    extras,
    fromImage,
    web: record.config.processes === undefined || webProcess in record.config.processes,
  });
  // app.json's check, as the deploy ran it, unless the app has set its own path since.
  const fromAppJson = record.appJsonHealthCheck;
  if (!fromAppJson || plan.healthPath !== undefined) return plan;
  const { path, ...rules } = fromAppJson;
  return { ...plan, healthPath: path, healthRules: rules };
}

/** The snapshot a release record keeps: what ran, with env values masked. */
export function releaseConfig(
  doc: AppDocument,
  plan: InstancePlan,
  /** The release's process types and commands, once the clone said (conventions.ts). */
  processes?: Record<string, string>,
): ReleaseConfig {
  return {
    ...(doc.runtime ? { runtime: doc.runtime } : {}),
    builder: plan.fromImage ? 'dockerfile' : 'runtime',
    image: plan.image,
    repo: {
      url: splitRepoCredentials(doc.repo.url).url,
      ...(doc.repo.branch ? { branch: doc.repo.branch } : {}),
      ...(doc.repo.path ? { path: doc.repo.path } : {}),
    },
    build: doc.build ?? [],
    run: plan.command,
    ...(processes ? { processes } : {}),
    port: plan.port,
    env: Object.fromEntries(
      Object.keys(doc.sealedEnv)
        .sort()
        .map((k) => [k, maskedValue]),
    ),
    instances: doc.instanceCount ?? 1,
    resources: { cpu: plan.resources.cpu, memory: plan.resources.memoryMb },
    healthCheck: doc.healthCheck ?? {},
  };
}

/** A release built from a Dockerfile whose image is gone from this node: it cannot start without a rebuild. */
export class ReleaseImageMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReleaseImageMissingError';
  }
}

/**
 * Checks that a Dockerfile release's image is still on this node (restart, start, rollback reuse
 * it and never rebuild). Runtime images are checked (and pulled) by ensureImage as before.
 */
export async function checkReleaseImage(ctx: WorkerContext, plan: InstancePlan): Promise<void> {
  if (plan.fromImage && !(await imageExists(ctx.docker, plan.image)))
    throw new ReleaseImageMissingError(
      `the image of release ${plan.release} (${plan.image}) is no longer on node ${ctx.options.nodeId}: deploy again to rebuild it`,
    );
}

/** Marks `active` the serving release and every other formerly active one `superseded`. */
export async function recordActivation(
  ctx: WorkerContext,
  app: string,
  active: string,
  patch: Partial<ReleaseRecord>,
): Promise<void> {
  const now = new Date().toISOString();
  for (const record of await ctx.records.list(app)) {
    if (record.id === active) {
      await ctx.records.put({
        ...record,
        ...patch,
        status: 'active',
        timings: { ...record.timings, ...patch.timings, activatedAt: [...record.timings.activatedAt, now] },
      });
    } else if (record.status === 'active') {
      await ctx.records.put({ ...record, status: 'superseded' });
    }
  }
}

/** Records which release directories pruning removed: those cannot be rolled back to. */
export async function recordPruned(ctx: WorkerContext, app: string, pruned: readonly string[]): Promise<void> {
  for (const id of pruned) await ctx.records.update(app, id, (r) => ({ ...r, onDisk: false }));
}
