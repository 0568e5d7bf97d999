import type { Logger } from '../../core/log.ts';
import { placementOf } from '../../core/app-placement.ts';
import { formationTotal } from '../../core/formation.ts';
import { candidateNodes, type AppDemand } from '../../core/node-health.ts';
import { PlacementError, placeInstances } from '../../core/place-instances.ts';
import type { AppDocument } from '../../store/app-document.ts';
import type { DatabaseDocument, DatabaseResources } from '../../store/database-document.ts';
import { DatabaseStore } from '../../store/databases.ts';
import { volumeStaysReason } from '../../core/app-volumes.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { enqueueRedeploy } from '../redeploy.ts';
import { platformActor } from '../release-reasons.ts';

/**
 * What an app is assumed to ask for when it sets no limits: the lifecycle defaults (1 CPU,
 * 512 MiB per instance). Placement reserves them, so a node is never promised more than it has.
 */
export const defaultInstanceDemand = { cpu: 1, memoryMb: 512 } as const;

/**
 * What one instance of an app asks of its node: its limits. Read loosely, since an app (or a
 * create request) that sets no `resources` gets the defaults.
 */
export function instanceDemandOf(app: object): { cpu: number; memoryBytes: number } {
  const a = app as { resources?: { cpu?: unknown; memory?: unknown } };
  const cpu = typeof a.resources?.cpu === 'number' ? a.resources.cpu : defaultInstanceDemand.cpu;
  const memoryMb = typeof a.resources?.memory === 'number' ? a.resources.memory : defaultInstanceDemand.memoryMb;
  return { cpu, memoryBytes: memoryMb * 1024 * 1024 };
}

/**
 * How many containers an app (or a create or patch request) asks for: every process type's
 * (core/formation.ts), each placed like a web instance.
 */
export function instanceCountOf(app: object): number {
  const a = app as { instances?: unknown; instanceCount?: unknown; processes?: unknown };
  const web = typeof a.instanceCount === 'number' ? a.instanceCount : typeof a.instances === 'number' ? a.instances : 1;
  const processes =
    a.processes && typeof a.processes === 'object' ? (a.processes as Record<string, number>) : undefined;
  return formationTotal({ instanceCount: web, processes });
}

/** A database's demand on its node: its limits, or the same defaults as an app instance. */
export function databaseDemand(resources: DatabaseResources | undefined): { cpu: number; memoryBytes: number } {
  return {
    cpu: resources?.cpus ?? defaultInstanceDemand.cpu,
    memoryBytes: (resources?.memoryMb ?? defaultInstanceDemand.memoryMb) * 1024 * 1024,
  };
}

/**
 * Whether an app holds room on its nodes: while it runs (has instances) or is being deployed. A
 * stopped, crashed or failed app with no container holds nothing; its rebuild, start, restart
 * or rollback asks for room again (see `placeOnNodes`).
 */
export function holdsCapacity(app: Pick<AppDocument, 'status' | 'instances' | 'pendingRelease'>): boolean {
  if (app.status === 'deleting') return false;
  return (
    app.instances.length > 0 ||
    app.pendingRelease !== undefined ||
    app.status === 'queued' ||
    app.status === 'deploying' ||
    app.status === 'running'
  );
}

/** A database holds room unless it is being deleted or never ran (a failed first provision leaves nothing). */
export function databaseHoldsCapacity(database: Pick<DatabaseDocument, 'status'>): boolean {
  return database.status !== 'deleting' && database.status !== 'failed';
}

/**
 * What the apps and databases that hold room ask of their nodes, each named (the NO_CAPACITY
 * message names the biggest). Pure: tested in test/api/cluster/node-placement.unit.test.ts.
 */
export function demandsOf(apps: readonly AppDocument[], databases: readonly DatabaseDocument[]): AppDemand[] {
  return [
    ...apps
      .filter(holdsCapacity)
      .flatMap((a) => placementOf(a).map((node) => ({ node, holder: `app ${a.name}`, ...instanceDemandOf(a) }))),
    ...databases
      .filter(databaseHoldsCapacity)
      .map((d) => ({ node: d.node, holder: `database ${d.name}`, ...databaseDemand(d.resources) })),
  ];
}

type PlacementDeps = Pick<ApiDeps, 'apps' | 'nodes' | 'options' | 'redis'>;

export interface PlaceContext {
  /**
   * The app being placed again: what its document holds is not counted, since `current` stands
   * for it (so an app that holds nothing, stopped or failed, is not given back room it did not take).
   */
  app?: string;
  /** Nodes of the app's instances now (one entry each): their resources are this app's to reuse. */
  current?: readonly string[];
  exclude?: ReadonlySet<string>;
  /** Place only there: an app linked to a database runs on the database's node (its network is local). */
  only?: string;
  /** All instances on one node (an app with volumes, core/app-volumes.ts). */
  together?: boolean;
}

/**
 * Chooses a node for each of `instances` instances asking `demand` each (spread over nodes, see
 * core/place-instances.ts), or answers why they do not fit (503 / 409).
 */
export async function placeOnNodes(
  deps: PlacementDeps,
  demand: { cpu: number; memoryBytes: number },
  instances: number,
  context: PlaceContext = {},
): Promise<string[]> {
  const [nodes, draining, apps, databases] = await Promise.all([
    deps.nodes.list(),
    deps.nodes.draining(),
    deps.apps.list(),
    new DatabaseStore(deps.redis).list(),
  ]);
  // The app's current instances are counted at the size asked now, which placeInstances then
  // gives back to it: a resize is judged on what the other apps and databases hold.
  const others = context.app === undefined ? apps : apps.filter((a) => a.name !== context.app);
  const own = (context.current ?? []).map((node) => ({ node, ...demand }));
  const all = candidateNodes(nodes, {
    now: Date.now(),
    timeoutMs: deps.options.nodeTimeoutMs,
    draining,
    demands: [...demandsOf(others, databases), ...own],
    cpuOvercommit: deps.options.cpuOvercommit ?? 8,
  });
  const candidates = context.only === undefined ? all : all.filter((n) => n.id === context.only);
  if (context.only !== undefined && candidates.length === 0)
    throw new ApiError('NO_NODE_AVAILABLE', `node "${context.only}" is not registered`);
  try {
    return placeInstances(candidates, {
      ...demand,
      instances,
      ...(context.current ? { current: context.current } : {}),
      ...(context.exclude ? { exclude: context.exclude } : {}),
      ...(context.together ? { together: true } : {}),
    });
  } catch (err) {
    if (err instanceof PlacementError)
      throw new ApiError(err.reason === 'no-node' ? 'NO_NODE_AVAILABLE' : 'NO_CAPACITY', err.message);
    throw err;
  }
}

/** Chooses the node for a database asking `demand`. */
export async function chooseNode(deps: PlacementDeps, demand: { cpu: number; memoryBytes: number }): Promise<string> {
  return (await placeOnNodes(deps, demand, 1))[0]!;
}

/**
 * Where an app's instances go: spread over the nodes with room, or all on its databases' node
 * when it links any (a database's network is a bridge of its node). Returns the placement (a node
 * per instance) and the primary node, which is the first.
 */
export async function placeApp(
  deps: PlacementDeps,
  app: object & {
    name?: string;
    databases?: readonly string[] | undefined;
    volumes?: readonly unknown[] | undefined;
    node?: string;
  },
  context: Omit<PlaceContext, 'only' | 'together'> = {},
): Promise<{ node: string; placement: string[] }> {
  const linked = app.databases?.length ? await new DatabaseStore(deps.redis).get(app.databases[0]!) : undefined;
  if (linked && context.exclude?.has(linked.node)) {
    throw new ApiError(
      'NO_NODE_AVAILABLE',
      `the app runs beside its database "${linked.name}" on node ${linked.node}, which it cannot leave`,
    );
  }
  // An app with volumes runs on one node, and an existing one on its primary: its volumes are there.
  const withVolumes = (app.volumes?.length ?? 0) > 0;
  const pinned = withVolumes && context.current && app.node !== undefined ? app.node : undefined;
  if (pinned && context.exclude?.has(pinned))
    throw new ApiError('NO_NODE_AVAILABLE', `the app stays on node ${pinned}: ${volumeStaysReason}`);
  if (linked && pinned && linked.node !== pinned)
    throw new ApiError(
      'NO_NODE_AVAILABLE',
      `the app's volumes are on node ${pinned} and its database "${linked.name}" on node ${linked.node}: an app runs beside both`,
    );
  const only = linked?.node ?? pinned;
  const placement = await placeOnNodes(deps, instanceDemandOf(app), instanceCountOf(app), {
    ...context,
    ...(app.name !== undefined && context.current ? { app: app.name } : {}),
    ...(only ? { only } : {}),
    ...(withVolumes ? { together: true } : {}),
  });
  return { node: placement[0]!, placement };
}

/**
 * For start, restart and rollback of an app that holds no room: its releases are on its nodes,
 * so its instances must fit there again (409 NO_CAPACITY naming what holds the room). A node that
 * is down or draining is left to the operation's job, as before.
 */
export async function ensureRoomInPlace(deps: PlacementDeps, app: AppDocument): Promise<void> {
  const placement = placementOf(app);
  for (const node of new Set(placement)) {
    try {
      await placeOnNodes(deps, instanceDemandOf(app), placement.filter((n) => n === node).length, {
        app: app.name,
        only: node,
      });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'NO_NODE_AVAILABLE')) throw err;
    }
  }
}

export interface MoveReport {
  moved: { app: string; to: string; placement: string[]; job?: string }[];
  unplaced: { app: string; reason: string }[];
  /** Apps with volumes on the node: never moved (core/app-volumes.ts `volumeStaysReason`). */
  staying: { app: string; reason: string }[];
}

/**
 * Moves every app with instances on `from` to other nodes: the instances elsewhere stay where they
 * are, those on `from` are placed anew, and a redeploy of the same commit starts on the new
 * placement. The old node keeps serving until the new instances answer and traffic switches (the
 * proxy follows the app.instances event); its reconciliation then removes the old containers.
 * Used by drain and by failover; safe to repeat (an app already moved is not on `from` any more).
 */
export async function moveAppsOff(
  deps: PlacementDeps & Pick<ApiDeps, 'enqueue'>,
  from: string,
  log: Logger,
  /** Who moves them: the admin draining the node, else the platform (failover). */
  by = platformActor,
): Promise<MoveReport> {
  const report: MoveReport = { moved: [], unplaced: [], staying: [] };
  const exclude = new Set([from]);
  for (const doc of await deps.apps.list()) {
    const before = placementOf(doc);
    if (!before.includes(from) || doc.status === 'deleting') continue;
    if (doc.volumes?.length) {
      report.staying.push({ app: doc.name, reason: volumeStaysReason });
      continue;
    }
    let placed: { node: string; placement: string[] };
    try {
      // Each choice sees the apps moved before it.
      placed = await placeApp(deps, doc, { exclude, current: before.filter((n) => n !== from) });
    } catch (err) {
      report.unplaced.push({ app: doc.name, reason: (err as Error).message });
      continue;
    }
    const to = placed.node;
    const moved = await deps.apps.update(doc.name, (d) =>
      d.uid === doc.uid && placementOf(d).includes(from) && d.status !== 'deleting' ? { ...d, ...placed } : undefined,
    );
    if (!moved || placementOf(moved).includes(from)) continue;
    // An app that never got a release has nothing to start elsewhere until it is deployed again.
    if (!moved.release && !moved.pendingRelease) {
      report.moved.push({ app: doc.name, to, placement: placed.placement });
      continue;
    }
    // The commit that runs now, unless a newer deploy was asked for: that one goes on instead.
    const commit = moved.pendingRelease ? undefined : moved.commit;
    const cause = { by, reason: `moved off node ${from}` };
    const redeploy = await enqueueRedeploy(deps, doc.name, cause, commit ? { commit } : {});
    report.moved.push({
      app: doc.name,
      to,
      placement: placed.placement,
      ...(redeploy ? { job: redeploy.job.id } : {}),
    });
    log.info({ app: doc.name, from, placement: placed.placement, job: redeploy?.job.id }, 'app moved off a node');
  }
  return report;
}
