import {
  AggregatorRegistry,
  type Metric,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';

/**
 * Registers into `registry` (this process's, served at the API's `/metrics` or the proxy metrics
 * port) one stand-in per metric the proxy processes report: each scrape asks every process for
 * its metrics and serves their sum (prom-client's cluster aggregation: counters and histogram
 * buckets add up). Metric names are taken from the processes' first answer, so counters a later
 * `startProxy` adds are relayed too.
 */
export async function relayMetrics(registry: Registry, collect: () => Promise<unknown[][]>): Promise<void> {
  let snapshot: Promise<Registry> | undefined;
  // One scrape reads every metric: one round of IPC for all of them.
  const aggregated = () => {
    snapshot ??= collect().then((replies) => {
      setTimeout(() => (snapshot = undefined), 100).unref();
      return AggregatorRegistry.aggregate(replies as MetricObjectWithValues<MetricValue<string>>[][]);
    });
    return snapshot;
  };
  const first = (await collect()) as MetricObjectWithValues<MetricValue<string>>[][];
  const seen = new Map<string, MetricObjectWithValues<MetricValue<string>>>();
  for (const metrics of first) for (const metric of metrics) if (!seen.has(metric.name)) seen.set(metric.name, metric);
  for (const metric of seen.values()) {
    const relay = {
      name: metric.name,
      help: metric.help,
      type: metric.type,
      aggregator: metric.aggregator,
      async get() {
        const found = (await aggregated()).getSingleMetric(metric.name);
        return found ? await found.get() : { ...metric, values: [] };
      },
    };
    registry.registerMetric(relay as unknown as Metric);
  }
}
