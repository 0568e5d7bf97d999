import fs from 'node:fs/promises';
import path from 'node:path';
import { scopeFilter } from '../../core/installation.ts';
import { containerLabels } from '../../core/naming.ts';
import { nodesOf } from '../../core/app-placement.ts';
import { keys } from '../../core/keys.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { databaseLabel, databaseUidLabel } from '../../core/database-naming.ts';
import { DatabaseStore } from '../../store/databases.ts';
import { RunSessionStore } from '../../store/run-sessions.ts';
import { listManaged, removeContainer } from '../../docker/containers.ts';
import { removeVolume } from '../../docker/volumes.ts';
import { listAppVolumes, removeVolumeHelpers } from '../apps/app-volumes.ts';
import type { WorkerContext } from '../context.ts';
import { cleanupReleases, type CleanupReport } from './release-cleanup.ts';
import { listAppNetworks, removeNetwork, removeUnusedNetwork } from '../../docker/networks.ts';

/** One of Gasper's app or build containers on this node, as Docker labels describe it. */
export interface ObservedContainer {
  id: string;
  name: string;
  app: string;
  release: string;
  role: string;
  /** Creation time, ms since the epoch. */
  createdMs: number;
}

export interface Removal {
  container: string;
  app: string;
  release: string;
  reason: string;
}

/**
 * A run container is in its worker's list of live runs from before its creation to after its
 * removal; this grace covers two worker processes of one node overlapping for a moment (an
 * upgrade), each knowing only its own runs.
 */
const runGraceMs = 30_000;
/** Build containers live at most the build timeout; this much more covers a slow removal. */
const buildGraceMs = 60_000;
/** How long an app that moved keeps its old containers after its document last changed. */
const movedGraceMs = 5000;

/**
 * Desired state (the app documents) against observed state (this node's labelled containers):
 * which containers are orphans. Pure: tested in test/workers/node/reconcile.unit.test.ts.
 *  - the app no longer exists (or is another incarnation's leftovers: it was deleted meanwhile);
 *  - the app is not placed on this node any more and serves nothing from here (it moved: drain,
 *    failover, a change of instances);
 *  - the release is neither the current nor the pending one, and the container is older than
 *    `settleMs` (the health timeout and a minute): an interrupted deploy's leftovers;
 *  - a build container older than the build timeout (its worker died mid-build);
 *  - a one-off run container whose job this worker no longer runs (it died, or its job ended), or
 *    whose interactive session's lease ran out (its SSH service died: store/run-sessions.ts).
 * An app being deleted is left to its delete job.
 */
export function planReconcile(
  nodeId: string,
  apps: ReadonlyMap<string, AppDocument>,
  containers: readonly ObservedContainer[],
  context: {
    now: number;
    buildTimeoutMs: number;
    settleMs: number;
    /** Names of the one-off containers whose job this worker is running (one-off.ts) or whose session is live. */
    liveRuns?: ReadonlySet<string>;
  },
): Removal[] {
  const removals: Removal[] = [];
  for (const c of containers) {
    const doc = apps.get(c.app);
    const remove = (reason: string) => removals.push({ container: c.name, app: c.app, release: c.release, reason });
    if (!doc) {
      remove('app no longer exists');
      continue;
    }
    if (doc.status === 'deleting') continue;
    // A one-off container lives as long as its job: of any release (a deploy meanwhile does not
    // end a run of the previous one), on any node the job ran.
    if (c.role === 'run') {
      if (!context.liveRuns?.has(c.name) && context.now - c.createdMs > runGraceMs)
        remove('one-off run whose job (or interactive session) is no longer running');
      continue;
    }
    if (c.role === 'build' && context.now - c.createdMs > context.buildTimeoutMs + buildGraceMs) {
      remove('build container older than the build timeout');
      continue;
    }
    if (!nodesOf(doc).includes(nodeId)) {
      // Until the new node's instances take the traffic, this one keeps serving; and a little
      // longer, so the proxies have applied the switch event before the old instance goes.
      const switched =
        !doc.instances.some((i) => i.node === nodeId) && context.now - Date.parse(doc.updatedAt) > movedGraceMs;
      if (switched) remove(`app moved to node${nodesOf(doc).length > 1 ? 's' : ''} ${nodesOf(doc).join(', ')}`);
      continue;
    }
    // Younger containers of another release may be an operation's (a rollback starts the older
    // release beside the serving one), which switches or removes them within the health timeout.
    if (c.release !== doc.release && c.release !== doc.pendingRelease && context.now - c.createdMs > context.settleMs) {
      remove(
        `release ${c.release} is neither current (${doc.release ?? 'none'}) nor pending (${doc.pendingRelease ?? 'none'})`,
      );
    }
  }
  return removals;
}

/**
 * App directories under the state dir this node no longer needs: apps that do not exist, or
 * that live on another node and have no container left here.
 */
export function planDirRemovals(
  nodeId: string,
  apps: ReadonlyMap<string, AppDocument>,
  dirs: readonly string[],
  remaining: ReadonlySet<string>,
): string[] {
  return dirs.filter((app) => {
    const doc = apps.get(app);
    if (!doc) return !remaining.has(app);
    return !nodesOf(doc).includes(nodeId) && doc.status !== 'deleting' && !remaining.has(app);
  });
}

/** One of this node's app networks (docker/networks.ts), as its labels say. */
export interface ObservedNetwork {
  id: string;
  name: string;
  app: string;
  uid: string;
}

/**
 * App networks this node no longer needs: the app is gone (or that was an earlier incarnation),
 * or it moved off this node and no container of it is left here. A network still in use is
 * left for a later run; an app being deleted is left to its delete job. Pure.
 */
export function planNetworkRemovals(
  nodeId: string,
  apps: ReadonlyMap<string, AppDocument>,
  networks: readonly ObservedNetwork[],
  remaining: ReadonlySet<string>,
): { id: string; name: string; reason: string }[] {
  return networks.flatMap((n) => {
    const doc = apps.get(n.app);
    if (!doc || doc.uid !== n.uid) return [{ id: n.id, name: n.name, reason: 'app no longer exists' }];
    if (doc.status === 'deleting') return [];
    if (!nodesOf(doc).includes(nodeId) && !remaining.has(n.app))
      return [{ id: n.id, name: n.name, reason: 'app moved to another node' }];
    return [];
  });
}

/** Something a database owns on this node (container, volume, network), as its labels say. */
export interface DatabaseResource {
  kind: 'container' | 'volume' | 'network';
  /** Docker's id or name, to remove it. */
  id: string;
  database: string;
  uid: string;
}

export interface DatabaseRemoval {
  kind: DatabaseResource['kind'];
  id: string;
  database: string;
  reason: string;
}

/**
 * What databases deleted without this node (it was down: api/cluster/job-failover.ts) left here: their
 * container, volume (the data, which the user asked to delete) and network. Only those recorded
 * as deleted (`deleted`: `<database>/<uid>`) go, and only if no database of that uid exists: a
 * database merely missing from Redis (a wrong REDIS_URL, a lost Redis) keeps its data. Pure.
 */
export function planDatabaseRemovals(
  databases: ReadonlyMap<string, { uid: string }>,
  resources: readonly DatabaseResource[],
  deleted: ReadonlySet<string>,
): DatabaseRemoval[] {
  return resources.flatMap((r) => {
    if (!deleted.has(`${r.database}/${r.uid}`) || databases.get(r.database)?.uid === r.uid) return [];
    return [
      {
        kind: r.kind,
        id: r.id,
        database: r.database,
        reason: `database ${r.database} was deleted while this node was down`,
      },
    ];
  });
}

export interface ReconcileReport {
  at: string;
  node: string;
  removed: Removal[];
  /** Containers, volumes and networks of deleted databases. */
  databasesRemoved: DatabaseRemoval[];
  kept: number;
  dirsRemoved: string[];
  /** App networks of deleted or moved apps. */
  networksRemoved?: string[];
  /** Volumes of apps deleted while this node was down. */
  volumesRemoved?: string[];
  /** Old releases' directories, stopped containers and images (`app/release`) beyond GASPER_KEEP_RELEASES. */
  releasesRemoved?: CleanupReport;
  durationMs: number;
  /** The latest removals of this and earlier runs, newest first (at most 50), each with when. */
  recentRemovals: (Removal & { at: string })[];
  /** The same for deleted databases' containers, volumes and networks. */
  recentDatabaseRemovals: (DatabaseRemoval & { at: string })[];
}

/** Lists, plans, removes; records the report in Redis (shown by `GET /nodes`). Safe to repeat. */
export async function reconcileNode(ctx: WorkerContext): Promise<ReconcileReport> {
  const started = Date.now();
  const { docker, options } = ctx;
  // Containers first, documents second: a container created between the two reads has its
  // document already, so it is never taken for an orphan.
  const listed = (await listManaged(docker, ctx.scope)).filter((c) => c.Labels[containerLabels.app]);
  const networks = await listAppNetworks(docker, ctx.scope);
  const apps = new Map((await ctx.apps.list()).map((a) => [a.name, a]));
  // Interactive sessions' containers (ssh/run-session.ts) live as long as their lease.
  const sessions = await new RunSessionStore(ctx.redis).live();
  const observed: ObservedContainer[] = listed.map((c) => ({
    id: c.Id,
    name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
    app: c.Labels[containerLabels.app]!,
    release: c.Labels[containerLabels.release] ?? '',
    role: c.Labels[containerLabels.role] ?? 'app',
    createdMs: c.Created * 1000,
  }));
  const removed = planReconcile(options.nodeId, apps, observed, {
    now: Date.now(),
    buildTimeoutMs: options.buildTimeoutMs,
    settleMs: options.healthTimeoutMs + 60_000,
    liveRuns: new Set([...(ctx.runs ?? []), ...sessions]),
  });
  const doomed = new Set(removed.map((r) => r.container));
  for (const c of observed) if (doomed.has(c.name)) await removeContainer(docker, c.id);
  const databasesRemoved = await reconcileDatabases(ctx);
  const volumesRemoved = await reconcileAppVolumes(ctx, apps).catch((err) => {
    ctx.log.warn({ err }, 'app volume reconciliation failed');
    return [] as string[];
  });
  const remaining = new Set(observed.filter((c) => !doomed.has(c.name)).map((c) => c.app));
  const appsDir = path.dirname(ctx.releases.appDir('x'));
  const dirs = await fs.readdir(appsDir).catch(() => [] as string[]);
  const dirsRemoved = planDirRemovals(options.nodeId, apps, dirs, remaining);
  for (const app of dirsRemoved) await ctx.releases.removeApp(app);
  // Old releases beyond GASPER_KEEP_RELEASES: a deploy removes its app's, this catches the rest
  // (a deploy that failed to, a lowered setting, images of deleted apps).
  const releasesRemoved = await cleanupReleases(ctx).catch((err) => {
    ctx.log.warn({ err }, 'release cleanup failed');
    return undefined;
  });
  const networksRemoved: string[] = [];
  for (const n of planNetworkRemovals(options.nodeId, apps, networks, remaining)) {
    if (await removeUnusedNetwork(docker, n.id)) networksRemoved.push(n.name);
  }
  const at = new Date().toISOString();
  const previous = await ctx.redis.get(keys.nodeReconcile(options.nodeId)).then(
    (raw) => (raw ? (JSON.parse(raw) as Partial<ReconcileReport>) : {}),
    () => ({}) as Partial<ReconcileReport>,
  );
  const report: ReconcileReport = {
    at,
    node: options.nodeId,
    removed,
    databasesRemoved,
    kept: observed.length - removed.length,
    dirsRemoved,
    networksRemoved,
    ...(volumesRemoved.length ? { volumesRemoved } : {}),
    ...(releasesRemoved ? { releasesRemoved } : {}),
    durationMs: Date.now() - started,
    recentRemovals: [...removed.map((r) => ({ ...r, at })), ...(previous.recentRemovals ?? [])].slice(0, 50),
    recentDatabaseRemovals: [
      ...databasesRemoved.map((r) => ({ ...r, at })),
      ...(previous.recentDatabaseRemovals ?? []),
    ].slice(0, 50),
  };
  await ctx.redis.set(keys.nodeReconcile(options.nodeId), JSON.stringify(report));
  if (
    removed.length ||
    dirsRemoved.length ||
    databasesRemoved.length ||
    networksRemoved.length ||
    volumesRemoved.length
  ) {
    ctx.log.info(
      { removed, dirsRemoved, databasesRemoved, networksRemoved, volumesRemoved },
      'reconciliation removed orphans',
    );
  }
  return report;
}

/** An app volume on this node, as its labels say (workers/apps/app-volumes.ts). */
export interface ObservedVolume {
  name: string;
  app: string;
  uid: string;
}

/**
 * The volumes of apps deleted without this node (it was down): only those recorded as deleted
 * (`deleted`: `<app>/<uid>`), and only if no app of that uid exists, so an app merely missing
 * from Redis keeps its data. Pure.
 */
export function planVolumeRemovals(
  apps: ReadonlyMap<string, { uid: string }>,
  volumes: readonly ObservedVolume[],
  deleted: ReadonlySet<string>,
): { name: string; app: string; reason: string }[] {
  return volumes.flatMap((v) =>
    deleted.has(`${v.app}/${v.uid}`) && apps.get(v.app)?.uid !== v.uid
      ? [{ name: v.name, app: v.app, reason: `app ${v.app} was deleted while this node was down` }]
      : [],
  );
}

/** Removes the volumes of apps deleted while this node was down; forgets the deletions done. */
async function reconcileAppVolumes(ctx: WorkerContext, apps: ReadonlyMap<string, AppDocument>): Promise<string[]> {
  const tombstones = keys.nodeDeletedApps(ctx.options.nodeId);
  const deleted = new Set(await ctx.redis.smembers(tombstones));
  if (deleted.size === 0) return [];
  const volumes = await listAppVolumes(ctx);
  const removals = planVolumeRemovals(apps, volumes, deleted);
  // A container of the deleted app still using a volume was removed above (its app has no document);
  // a volume helper (no app label, so not among those) is removed here, before its volume.
  for (const r of removals) {
    const uid = volumes.find((v) => v.name === r.name)!.uid;
    await removeVolumeHelpers(ctx, { app: r.app, uid });
    await removeVolume(ctx.docker, r.name);
  }
  const left = new Set(volumes.filter((v) => !removals.some((r) => r.name === v.name)).map((v) => `${v.app}/${v.uid}`));
  const done = [...deleted].filter((d) => !left.has(d));
  if (done.length) await ctx.redis.srem(tombstones, ...done);
  return removals.map((r) => r.name);
}

/** Lists this node's database resources (resources first, documents second, as for apps), removes the orphans. */
async function reconcileDatabases(ctx: WorkerContext): Promise<DatabaseRemoval[]> {
  const { docker, options } = ctx;
  const label = [...scopeFilter(ctx.scope), databaseLabel];
  const owner = (labels: Record<string, string> | undefined) => ({
    database: labels?.[databaseLabel] ?? '',
    uid: labels?.[databaseUidLabel] ?? '',
  });
  const [containers, volumes, networks] = await Promise.all([
    docker.listContainers({ all: true, filters: { label } }),
    docker.listVolumes({ filters: { label } }),
    docker.listNetworks({ filters: { label } }),
  ]);
  const resources: DatabaseResource[] = [
    ...containers.map((c) => ({ kind: 'container' as const, id: c.Id, ...owner(c.Labels) })),
    ...(volumes.Volumes ?? []).map((v) => ({ kind: 'volume' as const, id: v.Name, ...owner(v.Labels ?? undefined) })),
    ...networks.map((n) => ({ kind: 'network' as const, id: n.Id, ...owner(n.Labels) })),
  ].filter((r) => r.database);
  const tombstones = keys.nodeDeletedDatabases(options.nodeId);
  const deleted = new Set(await ctx.redis.smembers(tombstones));
  if (deleted.size === 0) return [];
  const databases = new Map((await new DatabaseStore(ctx.redis).list()).map((d) => [d.name, d]));
  const removals = planDatabaseRemovals(databases, resources, deleted);
  // The container first: a volume or network in use cannot go.
  const order = { container: 0, network: 1, volume: 2 } as const;
  for (const r of [...removals].sort((a, b) => order[a.kind] - order[b.kind])) {
    if (r.kind === 'container') await removeContainer(docker, r.id);
    else if (r.kind === 'network') await removeNetwork(docker, r.id);
    else await removeVolume(docker, r.id);
  }
  // Recorded deletions with nothing left here are done.
  const left = new Set(
    resources.filter((r) => !removals.some((x) => x.id === r.id)).map((r) => `${r.database}/${r.uid}`),
  );
  const done = [...deleted].filter((d) => !left.has(d));
  if (done.length) await ctx.redis.srem(tombstones, ...done);
  return removals;
}

/**
 * Reconciles at start (before the worker takes jobs, so a crash's leftovers go first) and every
 * `intervalMs`. No lock with running jobs is needed: a deploy in progress builds its app's
 * pending release, which the plan keeps.
 */
export async function startReconciler(
  ctx: WorkerContext,
  intervalMs: number,
): Promise<{ first: ReconcileReport; close(): Promise<void> }> {
  const first = await reconcileNode(ctx);
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= reconcileNode(ctx)
      .catch((err) => ctx.log.warn({ err }, 'reconciliation failed'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    first,
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
