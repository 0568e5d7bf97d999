import { expect } from 'chai';
import { Registry } from 'prom-client';
import { ProxyMetrics, statusClass } from '../../src/proxy/proxy-metrics.ts';
import { bucketsFor } from '../../src/store/deploy-durations.ts';

describe('proxy-metrics', () => {
  it('classes status codes', () => {
    expect([101, 200, 304, 404, 502, 0, 700].map(statusClass)).to.deep.equal([
      '1xx',
      '2xx',
      '3xx',
      '4xx',
      '5xx',
      '5xx',
      '5xx',
    ]);
  });

  it('counts responses, failures and latency per app, and forgets a deleted app', async () => {
    const registry = new Registry();
    const metrics = new ProxyMetrics(registry);
    metrics.response('shop', 200, 0.003);
    metrics.response('shop', 201, 0.2);
    metrics.response('shop', 502, 0.01);
    metrics.failure('shop', 'unreachable');
    metrics.response('blog', 404, 0.001);
    metrics.unknown();
    let text = await registry.metrics();
    expect(text).to.include('gasper_proxy_requests_total{app="shop",status="2xx"} 2');
    expect(text).to.include('gasper_proxy_requests_total{app="shop",status="5xx"} 1');
    expect(text).to.include('gasper_proxy_errors_total{app="shop",reason="unreachable"} 1');
    expect(text).to.include('gasper_proxy_request_duration_seconds_bucket{le="0.005",app="shop"} 1');
    expect(text).to.include('gasper_proxy_request_duration_seconds_count{app="shop"} 3');
    expect(text).to.include('gasper_proxy_unknown_host_requests_total 1');
    metrics.forget('shop');
    text = await registry.metrics();
    expect(text).to.not.include('app="shop"');
    expect(text).to.include('gasper_proxy_requests_total{app="blog",status="4xx"} 1');
  });
});

describe('deploy duration buckets', () => {
  it('puts a duration in every bucket at or above it (cumulative)', () => {
    expect(bucketsFor(3, [1, 2, 5, 10])).to.deep.equal([5, 10]);
    expect(bucketsFor(5, [1, 2, 5, 10])).to.deep.equal([5, 10]);
    expect(bucketsFor(0.1, [1, 2])).to.deep.equal([1, 2]);
    expect(bucketsFor(99, [1, 2])).to.deep.equal([]);
  });
});
