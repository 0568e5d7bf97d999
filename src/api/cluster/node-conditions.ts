import { describeNodeDown, nodeCondition, type NodeCondition } from '../../core/node-condition.ts';
import { planFailover } from '../../jobs/failover-plan.ts';
import type { JobView } from '../../jobs/status.ts';
import type { AppDocument } from '../../store/app-document.ts';
import type { DatabaseDocument } from '../../store/database-document.ts';
import { DatabaseStore } from '../../store/databases.ts';
import type { ApiDeps } from '../deps.ts';

/** Every node's condition now, for views that name a node: unknown ids answer `unknown`. */
export async function loadNodeConditions(
  deps: Pick<ApiDeps, 'nodes' | 'options'>,
): Promise<(id: string) => NodeCondition> {
  const [nodes, draining] = await Promise.all([deps.nodes.list(), deps.nodes.draining()]);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const context = { now: Date.now(), timeoutMs: deps.options.nodeTimeoutMs, draining };
  return (id) => nodeCondition(id, byId.get(id), context);
}

/** The app and the database a job's payload names, as they are now. */
export async function subjectsOf(
  deps: Pick<ApiDeps, 'apps' | 'redis'>,
  data: unknown,
): Promise<{ app?: AppDocument; database?: DatabaseDocument }> {
  const named = data as { app?: unknown; database?: unknown } | undefined;
  const app = typeof named?.app === 'string' ? await deps.apps.get(named.app) : undefined;
  const database =
    typeof named?.database === 'string' ? await new DatabaseStore(deps.redis).get(named.database) : undefined;
  return { ...(app ? { app } : {}), ...(database ? { database } : {}) };
}

const unfinished = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * What `GET /jobs/:id` adds to the queue's view: the node the job is bound to and, while the job
 * is not finished and that node is down, what happens to it (api/cluster/job-failover.ts does it).
 */
export async function jobNodeFields(
  deps: Pick<ApiDeps, 'nodes' | 'options' | 'apps' | 'redis'>,
  view: Pick<JobView, 'id' | 'type' | 'queue' | 'state'>,
  data: unknown,
) {
  // A cluster-wide queue (certificates) is not bound to a node: any node's worker takes its jobs.
  if (!view.queue.startsWith('node-')) return { node: null, blocked: null };
  const node = (await loadNodeConditions(deps))(view.queue.replace(/^node-/, ''));
  if (node.state === 'up' || !unfinished.has(view.state)) return { node, blocked: null };
  const { app, database } = await subjectsOf(deps, data);
  const plan = planFailover({ id: view.id, name: view.type, data }, node, app, database);
  const blocked =
    plan.action === 'wait'
      ? plan.reason
      : `${describeNodeDown(node)}: the job is ended at the node monitor's next check`;
  return { node, blocked };
}
