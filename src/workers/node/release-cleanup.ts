import fs from 'node:fs/promises';
import path from 'node:path';
import { containerLabels } from '../../core/naming.ts';
import { scopeFilter } from '../../core/installation.ts';
import { removeContainer } from '../../docker/containers.ts';
import type { AppDocument } from '../../store/app-document.ts';
import type { WorkerContext } from '../context.ts';
import { recordPruned } from '../apps/release-plan.ts';
import {
  planCleanup,
  type CleanupPlan,
  type ObservedImage,
  type ObservedReleaseContainer,
  type ReleaseObject,
} from './cleanup-plan.ts';

/** What one cleanup removed (names for the log and the reconcile report). */
export interface CleanupReport {
  dirs: string[];
  containers: string[];
  images: string[];
}

/** The release directories under the state dir, as `app/release` pairs; only `app` when given. */
async function listReleaseDirs(ctx: WorkerContext, only?: string): Promise<ReleaseObject[]> {
  const appsDir = path.dirname(ctx.releases.appDir('x'));
  const apps = only ? [only] : await fs.readdir(appsDir).catch(() => [] as string[]);
  const found: ReleaseObject[] = [];
  for (const app of apps) {
    const releases = await fs.readdir(path.join(ctx.releases.appDir(app), 'releases')).catch(() => [] as string[]);
    for (const release of releases) found.push({ app, release });
  }
  return found;
}

/**
 * Images of this installation's apps: any builder's (Dockerfile builds label theirs with the
 * installation, app and release). An image labelled for another node is that node's, even on a
 * daemon the two share; an image without a node label is the daemon's, so this node's.
 */
async function listReleaseImages(ctx: WorkerContext, only?: string): Promise<ObservedImage[]> {
  const label = [
    `${containerLabels.installation}=${ctx.scope.installation}`,
    only ? `${containerLabels.app}=${only}` : containerLabels.app,
  ];
  const images = await ctx.docker.listImages({ filters: { label } });
  return images.flatMap((i) => {
    const labels = i.Labels ?? {};
    const app = labels[containerLabels.app];
    const release = labels[containerLabels.release];
    const node = labels[containerLabels.node];
    if (!app || !release || (node && node !== ctx.scope.node)) return [];
    return [{ id: i.Id, app, release }];
  });
}

async function listReleaseContainers(ctx: WorkerContext, only?: string): Promise<ObservedReleaseContainer[]> {
  const listed = await ctx.docker.listContainers({
    all: true,
    filters: { label: scopeFilter(ctx.scope, only ? { [containerLabels.app]: only } : {}) },
  });
  return listed.flatMap((c) => {
    const app = c.Labels?.[containerLabels.app];
    const release = c.Labels?.[containerLabels.release];
    if (!app || !release) return [];
    return [{ id: c.Id, app, release, running: c.State === 'running' || c.State === 'restarting' }];
  });
}

/**
 * Removes what old releases left on this node beyond `GASPER_KEEP_RELEASES` (cleanup-plan.ts):
 * release directories, stopped containers, images. Only this installation's labelled objects are
 * listed, so nothing else can be touched. On the app's primary node, the records of removed
 * directories say they can no longer be rolled back to. Safe to repeat: a second run finds
 * nothing more. `only`: one app (after its deploy), else every app (periodic upkeep).
 */
export async function cleanupReleases(ctx: WorkerContext, only?: string): Promise<CleanupReport> {
  // Docker objects and directories first, documents second (as reconcile.ts): a release created
  // between the two reads is already its document's pending one, so it is kept.
  const [dirs, images, containers] = await Promise.all([
    listReleaseDirs(ctx, only),
    listReleaseImages(ctx, only),
    listReleaseContainers(ctx, only),
  ]);
  const docs = only ? [await ctx.apps.get(only)].filter((d): d is AppDocument => !!d) : await ctx.apps.list();
  const apps = new Map(
    docs.map((d) => [
      d.name,
      { release: d.release, pendingRelease: d.pendingRelease, deleting: d.status === 'deleting' },
    ]),
  );
  // The records say which releases ever served (cleanup-plan.ts ranks only those among the newest).
  const statuses = new Map<string, Map<string, string>>();
  for (const d of docs) {
    const list = await ctx.records.list(d.name);
    statuses.set(d.name, new Map(list.map((r) => [r.id, r.status])));
  }
  const plan: CleanupPlan = planCleanup({ keep: ctx.options.keepReleases, apps, statuses, dirs, images, containers });
  const report: CleanupReport = { dirs: [], containers: [], images: [] };
  for (const c of plan.containers) {
    await removeContainer(ctx.docker, c.id);
    report.containers.push(`${c.app}/${c.release}`);
  }
  for (const i of plan.images) {
    // force: a release image may carry several tags (app:release, app:latest); 404 it went
    // meanwhile, 409 a container still uses it (a later run removes it).
    await ctx.docker
      .getImage(i.id)
      .remove({ force: true })
      .then(
        () => report.images.push(`${i.app}/${i.release}`),
        (err: { statusCode?: number }) => {
          if (err.statusCode !== 404 && err.statusCode !== 409) throw err;
        },
      );
  }
  const pruned = new Map<string, string[]>();
  for (const d of plan.dirs) {
    await ctx.releases.removeRelease(d.app, d.release);
    report.dirs.push(`${d.app}/${d.release}`);
    pruned.set(d.app, [...(pruned.get(d.app) ?? []), d.release]);
  }
  for (const [app, releases] of pruned) {
    const doc = docs.find((d) => d.name === app);
    if (doc?.node === ctx.options.nodeId) await recordPruned(ctx, app, releases);
  }
  if (report.dirs.length || report.containers.length || report.images.length)
    ctx.log.info({ ...report, keep: ctx.options.keepReleases }, 'removed old releases');
  return report;
}
