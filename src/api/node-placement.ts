import type { Logger } from '../core/log.ts';
import { candidateNodes, type AppDemand } from '../core/node-health.ts';
import { PlacementError, placeInstances } from '../core/place-instances.ts';
import type { AppDocument } from '../store/app-document.ts';
import type { DatabaseDocument, DatabaseResources } from '../store/database-document.ts';
import { DatabaseStore } from '../store/databases.ts';
import type { ApiDeps } from './deps.ts';
import { ApiError } from './errors.ts';
import { enqueueRedeploy } from './redeploy.ts';

/**
 * What an app is assumed to ask for when it sets no limits: the lifecycle defaults (1 CPU,
 * 512 MiB per instance). Placement reserves them, so a node is never promised more than it has.
 */
export const defaultInstanceDemand = { cpu: 1, memoryMb: 512 } as const;

/**
 * The app's whole demand on its node: instances × per-instance limits. Read loosely, since an
 * app (or a create request) that sets no `instances`/`instanceCount` or `resources` gets defaults.
 * All of an app's instances run on its one node (`doc.node`); the deploy pipeline is per node.
 */
export function demandOf(app: object): { cpu: number; memoryBytes: number } {
  const a = app as { instances?: unknown; instanceCount?: unknown; resources?: { cpu?: unknown; memory?: unknown } };
  const count = typeof a.instanceCount === 'number' ? a.instanceCount : typeof a.instances === 'number' ? a.instances : 1;
  const cpu = typeof a.resources?.cpu === 'number' ? a.resources.cpu : defaultInstanceDemand.cpu;
  const memoryMb = typeof a.resources?.memory === 'number' ? a.resources.memory : defaultInstanceDemand.memoryMb;
  return { cpu: count * cpu, memoryBytes: count * memoryMb * 1024 * 1024 };
}

/** A database's demand on its node: its limits, or the same defaults as an app instance. */
export function databaseDemand(resources: DatabaseResources | undefined): { cpu: number; memoryBytes: number } {
  return { cpu: resources?.cpus ?? defaultInstanceDemand.cpu, memoryBytes: (resources?.memoryMb ?? defaultInstanceDemand.memoryMb) * 1024 * 1024 };
}

/** What every app and database already asks of its node. */
const demandsOf = (apps: readonly AppDocument[], databases: readonly DatabaseDocument[]): AppDemand[] => [
  ...apps.filter((a) => a.status !== 'deleting').map((a) => ({ node: a.node, ...demandOf(a) })),
  ...databases.filter((d) => d.status !== 'deleting').map((d) => ({ node: d.node, ...databaseDemand(d.resources) })),
];

type PlacementDeps = Pick<ApiDeps, 'apps' | 'nodes' | 'options' | 'redis'>;

/** Chooses the node for an app or a database asking `demand`, or answers why none fits (503 / 409). */
export async function chooseNode(
  deps: PlacementDeps,
  demand: { cpu: number; memoryBytes: number },
  context: { current?: string; exclude?: ReadonlySet<string>; apps?: readonly AppDocument[] } = {},
): Promise<string> {
  const [nodes, draining, apps, databases] = await Promise.all([
    deps.nodes.list(), deps.nodes.draining(), context.apps ?? deps.apps.list(), new DatabaseStore(deps.redis).list(),
  ]);
  const candidates = candidateNodes(nodes, {
    now: Date.now(), timeoutMs: deps.options.nodeTimeoutMs, draining, demands: demandsOf(apps, databases), cpuOvercommit: deps.options.cpuOvercommit ?? 8,
  });
  try {
    return placeInstances(candidates, {
      ...demand, instances: 1, ...(context.current ? { current: [context.current] } : {}), ...(context.exclude ? { exclude: context.exclude } : {}),
    })[0]!;
  } catch (err) {
    if (err instanceof PlacementError) throw new ApiError(err.reason === 'no-node' ? 'NO_NODE_AVAILABLE' : 'NO_CAPACITY', err.message);
    throw err;
  }
}

export interface MoveReport {
  moved: { app: string; to: string; job?: string }[];
  unplaced: { app: string; reason: string }[];
}

/**
 * Moves every app placed on `from` to another node: the document's node changes, then a
 * redeploy of the same commit starts there. The old node keeps serving until the new instance
 * answers and traffic switches (the proxy follows the app.instances event); its reconciliation
 * then removes the old containers. Used by drain and by failover; safe to repeat (an app already
 * moved is not on `from` any more).
 */
export async function moveAppsOff(deps: PlacementDeps & Pick<ApiDeps, 'enqueue'>, from: string, log: Logger): Promise<MoveReport> {
  const report: MoveReport = { moved: [], unplaced: [] };
  const exclude = new Set([from]);
  for (const doc of await deps.apps.list()) {
    if (doc.node !== from || doc.status === 'deleting') continue;
    let to: string;
    try {
      // Each choice sees the apps moved before it.
      to = await chooseNode(deps, demandOf(doc), { exclude });
    } catch (err) {
      report.unplaced.push({ app: doc.name, reason: (err as Error).message });
      continue;
    }
    const moved = await deps.apps.update(doc.name, (d) => (d.uid === doc.uid && d.node === from && d.status !== 'deleting' ? { ...d, node: to } : undefined));
    if (moved?.node !== to) continue;
    // An app that never got a release has nothing to start elsewhere until it is deployed again.
    if (!moved.release && !moved.pendingRelease) {
      report.moved.push({ app: doc.name, to });
      continue;
    }
    // The commit that runs now, unless a newer deploy was asked for: that one goes on instead.
    const commit = moved.pendingRelease ? undefined : moved.commit;
    const redeploy = await enqueueRedeploy(deps, doc.name, commit ? { commit } : {});
    report.moved.push({ app: doc.name, to, ...(redeploy ? { job: redeploy.job.id } : {}) });
    log.info({ app: doc.name, from, to, job: redeploy?.job.id }, 'app moved to another node');
  }
  return report;
}
