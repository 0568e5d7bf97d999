import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { publishEvent } from '../../src/events/stream.ts';
import { startProxy, type ProxyHandle } from '../../src/proxy/index.ts';
import { viaProxy } from '../support/platform.ts';
import { startTestRedis } from '../support/redis.ts';

const DOMAIN = 'gasper.test';

/** A proxy running on its own serves its counters on its metrics port, for Prometheus to scrape. */
describe('proxy metrics endpoint (Redis)', function () {
  this.timeout(30_000);
  let redisHandle: EmbeddedRedisHandle;
  let proxy: ProxyHandle;
  let upstream: http.Server;
  const ok = `ok-${crypto.randomBytes(3).toString('hex')}`;
  const dead = `dead-${crypto.randomBytes(3).toString('hex')}`;
  const token = `metrics-${crypto.randomBytes(12).toString('hex')}`;

  before(async () => {
    redisHandle = await startTestRedis();
    upstream = http.createServer((_req, res) => res.end('hi\n'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const redis = connectRedis(redisHandle.url);
    const instance = (port: number) => ({ node: 'n1', address: '127.0.0.1', port, container: `c-${port}` });
    await publishEvent(redis, {
      type: 'app.instances',
      app: ok,
      release: 'r000001',
      instances: [instance((upstream.address() as net.AddressInfo).port)],
    });
    await publishEvent(redis, {
      type: 'app.instances',
      app: dead,
      release: 'r000001',
      instances: [instance(closedPort)],
    });
    redis.disconnect();
    proxy = await startProxy(
      { host: '127.0.0.1', port: 0, domain: DOMAIN, redisUrl: redisHandle.url, metricsPort: 0, metricsToken: token },
      { log: createLogger('silent') },
    );
  });
  after(async () => {
    await proxy?.close();
    await new Promise((r) => upstream?.close(r));
    await redisHandle?.close();
  });

  function scrape(
    path = '/metrics',
    authorization: string | undefined = `Bearer ${token}`,
  ): Promise<{ status: number; type?: string; body: string }> {
    return new Promise((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port: proxy.metricsPort, path, headers: authorization ? { authorization } : {} },
          (res) => {
            let body = '';
            res
              .setEncoding('utf8')
              .on('data', (c: string) => (body += c))
              .on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
          },
        )
        .on('error', reject);
    });
  }

  it('answers only with GASPER_METRICS_TOKEN: 401 without it or with another token, and the body names no app', async () => {
    for (const authorization of ['', 'Bearer wrong-token-of-some-length', `Basic ${token}`, token]) {
      const { status, body } = await scrape('/metrics', authorization);
      expect(status, authorization || 'no header').to.equal(401);
      expect(body).to.not.include('gasper_proxy');
    }
    expect((await scrape('/metrics')).status).to.equal(200);
  });

  it('refuses to start a metrics port without a token', async () => {
    let error: Error | undefined;
    await startProxy(
      { host: '127.0.0.1', port: 0, domain: DOMAIN, redisUrl: redisHandle.url, metricsPort: 0 },
      { log: createLogger('silent') },
    ).then(
      (p) => p.close(),
      (err: Error) => (error = err),
    );
    expect(error?.message).to.match(/GASPER_METRICS_TOKEN/);
  });

  it('counts responses, latency and failures per app', async () => {
    for (let i = 0; i < 4; i++) expect((await viaProxy(proxy.port, `${ok}.${DOMAIN}`)).status).to.equal(200);
    expect((await viaProxy(proxy.port, `${dead}.${DOMAIN}`)).status).to.equal(502);
    expect((await viaProxy(proxy.port, `nobody.${DOMAIN}`)).status).to.equal(404);
    const { status, type, body } = await scrape();
    expect(status).to.equal(200);
    expect(type).to.match(/^text\/plain; version=0\.0\.4/);
    expect(body).to.include(`gasper_proxy_requests_total{app="${ok}",status="2xx"} 4`);
    expect(body).to.include(`gasper_proxy_request_duration_seconds_count{app="${ok}"} 4`);
    expect(body).to.include(`gasper_proxy_requests_total{app="${dead}",status="5xx"} 1`);
    expect(body).to.include(`gasper_proxy_errors_total{app="${dead}",reason="unreachable"} 1`);
    expect(body).to.include('gasper_proxy_unknown_host_requests_total 1');
    expect((await scrape('/other')).status).to.equal(404);
  });

  it("drops a deleted app's series", async () => {
    const redis = connectRedis(redisHandle.url);
    await publishEvent(redis, { type: 'app.removed', app: dead });
    redis.disconnect();
    for (let i = 0; i < 100 && proxy.routes.has(dead); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await scrape()).body).to.not.include(`app="${dead}"`);
  });
});
