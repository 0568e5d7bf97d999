import type { RequestHandler } from 'express';
import { Gauge, Registry, type Metric } from 'prom-client';
import { sameDigest, sha256 } from '../core/secret-box.ts';
import { DeployDurations } from '../store/deploy-durations.ts';
import { hasScope } from '../core/access.ts';
import { resolvePrincipal } from './auth.ts';
import type { ApiDeps } from './deps.ts';
import { ApiError } from './errors.ts';
import { apiRoutes } from './openapi/registry.ts';

/** The BullMQ states `gasper_jobs` reports per queue. */
export const jobStates = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
  'paused',
] as const;

/**
 * The cluster's state as the API sees it in Redis, read at scrape time: jobs per node queue
 * and state, apps per status, instances per app, and the deploy duration histogram that node
 * workers keep in Redis.
 */
export function clusterMetrics(deps: Pick<ApiDeps, 'redis' | 'apps' | 'nodes' | 'queues'>): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'gasper_jobs',
    help: 'Jobs in each node queue, by BullMQ state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const node of await deps.nodes.list()) {
        const queue = deps.queues.forNode(node.id);
        const counts = await queue.getJobCounts(...jobStates);
        for (const state of jobStates) this.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
    },
  });
  const apps = async () => deps.apps.list();
  new Gauge({
    name: 'gasper_apps',
    help: 'Apps by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      const byStatus = new Map<string, number>();
      for (const app of await apps()) byStatus.set(app.status, (byStatus.get(app.status) ?? 0) + 1);
      for (const [status, count] of byStatus) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'gasper_app_instances',
    help: 'Running instances (containers serving traffic) per app',
    labelNames: ['app'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const app of await apps()) this.set({ app: app.name }, app.instances.length);
    },
  });
  registry.registerMetric(deployDurationMetric(new DeployDurations(deps.redis)));
  return registry;
}

/**
 * A histogram whose state lives in Redis (workers add to it), rendered by prom-client's own
 * formatter: prom-client's Histogram can only count observations made in this process, so this
 * implements the small `get()` interface its registry reads.
 */
function deployDurationMetric(durations: DeployDurations): Metric {
  const name = 'gasper_deploy_duration_seconds';
  const metric = {
    name,
    help: 'Time from a node worker taking a deploy job to its end, by outcome (all nodes, kept in Redis)',
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const [outcome, state] of await durations.read()) {
        for (const bucket of state.buckets)
          values.push({ metricName: `${name}_bucket`, labels: { outcome, le: bucket.le }, value: bucket.count });
        values.push({ metricName: `${name}_bucket`, labels: { outcome, le: '+Inf' }, value: state.count });
        values.push({ metricName: `${name}_sum`, labels: { outcome }, value: state.sum });
        values.push({ metricName: `${name}_count`, labels: { outcome }, value: state.count });
      }
      return { name, help: metric.help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  return metric as unknown as Metric;
}

/**
 * `GET /metrics`: the cluster metrics, plus this process's own (the proxy's counters when it runs
 * in this process, Node's runtime metrics). It needs the admin token or, so that Prometheus need
 * not hold an admin credential, the metrics token.
 */
export function metricsHandler(deps: ApiDeps): RequestHandler {
  const cluster = clusterMetrics(deps);
  const metricsTokenHash = deps.options.metricsToken ? sha256(deps.options.metricsToken) : undefined;
  return async (req, res) => {
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match) throw new ApiError('UNAUTHORIZED', 'missing "Authorization: Bearer <token>" header');
    const scraper = metricsTokenHash !== undefined && sameDigest(sha256(match[1]!), metricsTokenHash);
    // Otherwise any admin's token with the admin scope (the bootstrap token among them).
    const principal = scraper ? undefined : await resolvePrincipal(deps, req.get('authorization'));
    if (!scraper && !principal) throw new ApiError('UNAUTHORIZED', 'invalid token');
    if (principal && !hasScope(principal, 'admin'))
      throw new ApiError('FORBIDDEN', 'metrics are for admins and the metrics token');
    const registry = deps.processMetrics ? Registry.merge([cluster, deps.processMetrics]) : cluster;
    const body = await registry.metrics();
    res.type(registry.contentType).send(body);
  };
}

apiRoutes.add({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics (admins, or GASPER_METRICS_TOKEN)',
  tags: ['observability'],
  auth: 'admin',
  responses: {
    200: { description: 'Prometheus text format', contentType: 'text/plain' },
    401: { description: 'missing or wrong token' },
  },
});
