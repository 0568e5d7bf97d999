import { expect } from 'chai';
import { Registry } from 'prom-client';
import { ProxyMetrics } from '../../src/proxy/proxy-metrics.ts';
import { relayMetrics } from '../../src/proxy/relay-metrics.ts';

/** Two proxy processes' registries, as their JSON crosses IPC. */
async function processes(): Promise<{ registries: Registry[]; collect: () => Promise<unknown[][]> }> {
  const registries = [new Registry(), new Registry()];
  const [a, b] = registries.map((r) => new ProxyMetrics(r));
  a!.response('blog', 200, 0.004);
  a!.response('blog', 502, 0.2);
  b!.response('blog', 204, 0.03);
  b!.failure('blog', 'unreachable');
  b!.unknown();
  return {
    registries,
    collect: async () => Promise.all(registries.map((r) => r.getMetricsAsJSON())),
  };
}

describe('relayMetrics (the proxy processes’ counters, summed)', () => {
  it('serves the sum of every process’s counters and histograms', async () => {
    const { collect } = await processes();
    const registry = new Registry();
    await relayMetrics(registry, collect);
    const text = await registry.metrics();
    expect(text).to.include('gasper_proxy_requests_total{app="blog",status="2xx"} 2');
    expect(text).to.include('gasper_proxy_requests_total{app="blog",status="5xx"} 1');
    expect(text).to.include('gasper_proxy_errors_total{app="blog",reason="unreachable"} 1');
    expect(text).to.include('gasper_proxy_unknown_host_requests_total 1');
    expect(text).to.include('gasper_proxy_request_duration_seconds_count{app="blog"} 3');
    expect(text).to.include('gasper_proxy_request_duration_seconds_bucket{le="0.005",app="blog"} 1');
  });

  it('asks the processes again at a later scrape', async () => {
    const { registries, collect } = await processes();
    const registry = new Registry();
    await relayMetrics(registry, collect);
    await registry.metrics();
    const counter = registries[0]!.getSingleMetric('gasper_proxy_unknown_host_requests_total') as unknown as {
      inc(): void;
    };
    counter.inc();
    counter.inc();
    await new Promise((r) => setTimeout(r, 150)); // past the one-scrape cache
    expect(await registry.metrics()).to.include('gasper_proxy_unknown_host_requests_total 3');
  });

  it('serves the metrics without values when no process answers, not an error', async () => {
    const source = new Registry();
    new ProxyMetrics(source);
    const first = [await source.getMetricsAsJSON()];
    let calls = 0;
    const registry = new Registry();
    await relayMetrics(registry, async () => (calls++ === 0 ? first : [[], []]));
    const text = await registry.metrics();
    expect(text).to.include('# TYPE gasper_proxy_requests_total counter');
    expect(text).to.not.match(/^gasper_proxy_requests_total\{/m);
  });
});
