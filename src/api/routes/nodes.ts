import { Router } from 'express';
import { keys } from '../../core/keys.ts';
import { nodeStateAt } from '../../core/node-health.ts';
import { databaseStaysReason } from '../../core/node-condition.ts';
import { volumeStaysReason } from '../../core/app-volumes.ts';
import type { DatabaseDocument } from '../../store/database-document.ts';
import { DatabaseStore } from '../../store/databases.ts';
import type { AppDocument } from '../../store/app-document.ts';
import type { NodeDocument } from '../../store/nodes.ts';
import { principalOf, requireScope } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { holdsCapacity, instanceDemandOf, moveAppsOff } from '../cluster/node-placement.ts';
import { shareOf } from '../../core/app-placement.ts';

/**
 * The nodes, for admins: `GET /nodes`, `POST /nodes/:id/drain` (nothing new is placed there and
 * its apps are redeployed elsewhere), `POST /nodes/:id/undrain`, and `DELETE /nodes/:id` to
 * retire a node whose worker is gone.
 */
export function nodesRouter(deps: ApiDeps): Router {
  const router = Router();
  router.use(requireScope('admin'));

  async function views(only?: string) {
    const [nodes, draining, apps, databases] = await Promise.all([
      deps.nodes.list(),
      deps.nodes.draining(),
      deps.apps.list(),
      new DatabaseStore(deps.redis).list(),
    ]);
    const chosen = only === undefined ? nodes : nodes.filter((n) => n.id === only);
    const reconciles = chosen.length ? await deps.redis.mget(chosen.map((n) => keys.nodeReconcile(n.id))) : [];
    return chosen.map((n, i) =>
      nodeView(n, {
        now: Date.now(),
        timeoutMs: deps.options.nodeTimeoutMs,
        draining: draining.has(n.id),
        apps,
        reconcile: reconciles[i] ?? null,
        databases,
      }),
    );
  }

  async function existing(id: string) {
    const [view] = await views(id);
    if (!view) throw new ApiError('NOT_FOUND', `node "${id}" not found`);
    return view;
  }

  router.get('/', async (_req, res) => {
    res.json({ nodes: await views() });
  });

  router.get('/:id', async (req, res) => {
    res.json({ node: await existing(req.params.id) });
  });

  router.post('/:id/drain', async (req, res) => {
    await existing(req.params.id);
    await deps.nodes.setDraining(req.params.id, true);
    const report = await moveAppsOff(deps, req.params.id, deps.log, principalOf(res).user);
    const node = await existing(req.params.id);
    // What the drain leaves behind, and why: databases and apps with volumes stay (the node's `staying`).
    res.status(202).json({ node, ...report, staying: node.staying });
  });

  /**
   * Retires a node: only one whose worker is gone (down) and that nothing is placed on any more
   * (drain it first, or let failover move its apps); its databases must be deleted first.
   */
  router.delete('/:id', async (req, res) => {
    const node = await existing(req.params.id);
    if (node.state !== 'down') {
      throw new ApiError(
        'NODE_IN_USE',
        `node "${node.id}" is up: stop its worker first (a running worker registers again at its next heartbeat)`,
      );
    }
    const apps = (await deps.apps.list()).filter(
      (a) => a.status !== 'deleting' && (shareOf(a, node.id) > 0 || a.instances.some((i) => i.node === node.id)),
    );
    if (apps.length || node.databases.length) {
      const held = [...apps.map((a) => `app ${a.name}`), ...node.databases.map((d) => `database ${d}`)].join(', ');
      throw new ApiError(
        'NODE_IN_USE',
        `node "${node.id}" still holds ${held}: drain it (apps) and delete or back up and re-create its databases first`,
      );
    }
    await deps.nodes.remove(node.id);
    deps.log.info({ node: node.id }, 'node retired');
    res.json({ removed: node.id });
  });

  router.post('/:id/undrain', async (req, res) => {
    await existing(req.params.id);
    await deps.nodes.setDraining(req.params.id, false);
    res.json({ node: await existing(req.params.id) });
  });
  return router;
}

/** A node as `GET /nodes` shows it: what it reports, and what Gasper placed there. */
export function nodeView(
  node: NodeDocument,
  context: {
    now: number;
    timeoutMs: number;
    draining: boolean;
    apps: readonly AppDocument[];
    reconcile: string | null;
    databases?: readonly DatabaseDocument[];
  },
) {
  const databases = (context.databases ?? [])
    .filter((d) => d.node === node.id && d.status !== 'deleting')
    .map((d) => d.name);
  const placed = context.apps.filter((a) => shareOf(a, node.id) > 0 && a.status !== 'deleting');
  const reserved = placed.filter(holdsCapacity).reduce(
    (sum, a) => {
      const one = instanceDemandOf(a);
      const share = shareOf(a, node.id);
      return { cpu: sum.cpu + share * one.cpu, memoryBytes: sum.memoryBytes + share * one.memoryBytes };
    },
    { cpu: 0, memoryBytes: 0 },
  );
  return {
    id: node.id,
    address: node.address,
    state: nodeStateAt(node.heartbeatAt, context.now, context.timeoutMs),
    draining: context.draining,
    capacity: node.capacity,
    usage: node.usage ?? null,
    /** What the node's Docker runs (from its heartbeat). */
    allocations: node.allocations ?? null,
    /** Disk this installation takes on the node by category (releases, caches, images, containers, volumes, logs). */
    diskUse: node.diskUse ?? null,
    /** What placement counts as taken: the limits of the app instances placed there that run or are being deployed. */
    reserved,
    apps: placed.map((a) => a.name),
    databases,
    /**
     * Databases and apps with volumes never leave their node (their data is there): those a drain
     * or a failure leaves behind.
     */
    staying:
      context.draining || nodeStateAt(node.heartbeatAt, context.now, context.timeoutMs) === 'down'
        ? [
            ...databases.map((database) => ({ database, reason: databaseStaysReason })),
            ...placed.filter((a) => a.volumes?.length).map((a) => ({ app: a.name, reason: volumeStaysReason })),
          ]
        : [],
    startedAt: node.startedAt,
    heartbeatAt: node.heartbeatAt,
    lastReconcile: context.reconcile ? (JSON.parse(context.reconcile) as unknown) : null,
  };
}

const node = { id: 'the node id' };
apiRoutes.add(
  {
    method: 'get',
    path: '/nodes',
    summary: 'Nodes: capacity, usage, allocations, disk use by category, state (admins)',
    tags: ['nodes'],
    auth: 'admin',
    responses: { 200: { description: 'every node' } },
  },
  {
    method: 'get',
    path: '/nodes/:id',
    summary: 'One node, with its last reconciliation removals (admins)',
    tags: ['nodes'],
    auth: 'admin',
    params: node,
    responses: { 200: { description: 'the node' }, 404: { description: 'no such node' } },
  },
  {
    method: 'post',
    path: '/nodes/:id/drain',
    summary: 'Stop placing on the node and move its apps elsewhere (admins)',
    tags: ['nodes'],
    auth: 'admin',
    params: node,
    responses: {
      202: { description: 'draining: redeploys enqueued' },
      404: { description: 'no such node' },
      409: { description: 'no other node has room' },
    },
  },
  {
    method: 'delete',
    path: '/nodes/:id',
    summary: 'Retire a node whose worker is gone and that holds nothing any more (admins)',
    tags: ['nodes'],
    auth: 'admin',
    params: node,
    responses: {
      200: { description: 'forgotten' },
      404: { description: 'no such node' },
      409: { description: 'the node is up, or still holds apps or databases' },
    },
  },
  {
    method: 'post',
    path: '/nodes/:id/undrain',
    summary: 'Place on the node again (admins)',
    tags: ['nodes'],
    auth: 'admin',
    params: node,
    responses: { 200: { description: 'the node' }, 404: { description: 'no such node' } },
  },
);
