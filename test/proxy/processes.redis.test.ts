import crypto from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import type { GasperEvent } from '../../src/events/schemas.ts';
import { publishEvent } from '../../src/events/stream.ts';
import { preciseNow } from '../../src/proxy/process-messages.ts';
import { startProxyProcesses, type ProxyProcessesHandle } from '../../src/proxy/processes.ts';
import { startTestRedis } from '../support/redis.ts';

const DOMAIN = 'gasper.test';
const PROCESSES = 3;
/** The goal is p95 ≤ 50 ms (bench/route-propagation.ts); a shared, loaded test machine gets slack. */
const PROPAGATION_BOUND_MS = 1_000;
const TOKEN = `metrics-${crypto.randomBytes(8).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One GET on a fresh connection (the kernel hands each new connection to some process). */
function get(
  port: number,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Requests the proxy process in `slot` counted for `app` (gasper_proxy_requests_total, all status classes). */
function requestsOf(metrics: unknown[], app: string): number {
  const counter = (metrics as { name: string; values: { labels: { app?: string }; value: number }[] }[]).find(
    (m) => m.name === 'gasper_proxy_requests_total',
  );
  return (counter?.values ?? []).filter((v) => v.labels.app === app).reduce((sum, v) => sum + v.value, 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('proxy processes (GASPER_PROXY_PROCESSES)', function () {
  this.timeout(60_000);
  let redis: EmbeddedRedisHandle;
  let upstream: http.Server;
  let upstreamPort: number;
  let proxy: ProxyProcessesHandle | undefined;

  before(async () => {
    redis = await startTestRedis();
    upstream = http.createServer((_req, res) => res.end('upstream\n'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as { port: number }).port;
  });
  after(async () => {
    upstream.close();
    await redis.close();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  const start = () =>
    startProxyProcesses(
      {
        proxy: { host: '127.0.0.1', port: 0, domain: DOMAIN, redisUrl: redis.url, metricsPort: 0, metricsToken: TOKEN },
        processes: PROCESSES,
        reportEvents: true,
        restartBackoffMs: 50,
      },
      { log: createLogger('silent') },
    );

  async function publishRoute(app: string): Promise<number> {
    const pub = connectRedis(redis.url);
    try {
      const at = preciseNow();
      await publishEvent(pub, {
        type: 'app.instances',
        app,
        release: 'r1',
        instances: [{ node: 'n1', address: '127.0.0.1', port: upstreamPort, container: `${app}-1` }],
      });
      return at;
    } finally {
      pub.disconnect();
    }
  }

  /**
   * Resolves with the time (preciseNow) each slot applied the event for `app`, in slot order. Times,
   * not delays: a process may apply the event before the publisher's XADD has answered it, so the
   * delay is taken once both are known.
   */
  function appliedByAll(handle: ProxyProcessesHandle, app: string): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const times = new Map<number, number>();
      const timer = setTimeout(
        () => reject(new Error(`only slots ${[...times.keys()]} applied ${app} within 10 s`)),
        10_000,
      );
      const onApplied = (index: number, event: GasperEvent, at: number) => {
        if (event.type !== 'app.instances' || event.app !== app) return;
        times.set(index, at);
        if (times.size < PROCESSES) return;
        clearTimeout(timer);
        handle.events.off('applied', onApplied);
        resolve([...times.entries()].sort(([a], [b]) => a - b).map(([, t]) => t));
      };
      handle.events.on('applied', onApplied);
    });
  }

  /** Sends requests on fresh connections until every process has answered one for `app` itself. */
  async function servedByEvery(handle: ProxyProcessesHandle, app: string): Promise<void> {
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < PROCESSES * 2; i++) {
        const res = await get(handle.port, `${app}.${DOMAIN}`);
        expect(res, 'a response through the proxy').to.deep.equal({ status: 200, body: 'upstream\n' });
      }
      const counts = (await handle.metricsByProcess()).map((metrics) => requestsOf(metrics, app));
      if (counts.every((n) => n > 0)) return;
    }
    throw new Error(`not every proxy process served ${app}`);
  }

  it('runs N processes on one port; a route change reaches every one of them, and each serves it', async () => {
    proxy = await start();
    expect(proxy.processes).to.equal(PROCESSES);
    expect(new Set(proxy.pids()).size).to.equal(PROCESSES);
    for (const pid of proxy.pids()) expect(pid).to.not.equal(process.pid);

    const app = `app-${crypto.randomBytes(4).toString('hex')}`;
    expect((await get(proxy.port, `${app}.${DOMAIN}`)).status, 'before the event').to.equal(404);
    const applied = appliedByAll(proxy, app);
    const publishedAt = await publishRoute(app);
    const delays = (await applied).map((at) => at - publishedAt);
    expect(Math.max(...delays), `delays ${delays.map((d) => d.toFixed(1)).join(', ')} ms`).to.be.below(
      PROPAGATION_BOUND_MS,
    );
    await servedByEvery(proxy, app);
  });

  it('serves the counters of all processes summed on the metrics port', async () => {
    proxy = await start();
    const app = `app-${crypto.randomBytes(4).toString('hex')}`;
    const applied = appliedByAll(proxy, app);
    await publishRoute(app);
    await applied;
    await servedByEvery(proxy, app);
    const perProcess = (await proxy.metricsByProcess()).map((metrics) => requestsOf(metrics, app));
    const total = perProcess.reduce((a, b) => a + b, 0);

    const unauthorized = await get(proxy.metricsPort!, 'metrics');
    expect(unauthorized.status).to.equal(404); // GET / is no metrics path
    const scraped = await new Promise<string>((resolve, reject) => {
      http
        .get(
          {
            host: '127.0.0.1',
            port: proxy!.metricsPort,
            path: '/metrics',
            headers: { authorization: `Bearer ${TOKEN}` },
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c));
            res.on('end', () => resolve(body));
          },
        )
        .on('error', reject);
    });
    const line = new RegExp(`^gasper_proxy_requests_total\\{app="${app}",status="2xx"\\} (\\d+)$`, 'm').exec(scraped);
    expect(line, scraped).to.not.equal(null);
    expect(Number(line![1])).to.equal(total);
  });

  it('restarts a process that dies; the new one follows the stream; closing stops every process', async () => {
    proxy = await start();
    const [victim] = proxy.pids();
    process.kill(victim!, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (proxy.pids().length < PROCESSES || proxy.pids().includes(victim!)) {
      if (Date.now() > deadline) throw new Error(`no process replaced ${victim}: ${proxy.pids()}`);
      await sleep(20);
    }
    // Restarted and listening: a new route reaches all, the replacement included.
    const app = `app-${crypto.randomBytes(4).toString('hex')}`;
    const applied = appliedByAll(proxy, app);
    await publishRoute(app);
    await applied;
    await servedByEvery(proxy, app);

    const pids = proxy.pids();
    await proxy.close();
    proxy = undefined;
    for (const pid of pids) expect(alive(pid), `process ${pid} after close`).to.equal(false);
  });
});
