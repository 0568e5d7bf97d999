/**
 * Proxy throughput and latency: Gasper's proxy with N processes (GASPER_PROXY_PROCESSES, here
 * BENCH_PROCESSES, default the number of cores) against nginx with N workers, both in front of the
 * same upstream (a node:http server answering a small fixed body), with kept-alive connections on
 * both hops. Also measures the upstream directly, as the floor both proxies sit on. Goals: Gasper
 * ≥ 0.5× nginx's requests per second, p99 ≤ 2× nginx's.
 *
 *   npm run bench:proxy
 *   BENCH_PROCESSES=1 BENCH_SECONDS=10 BENCH_CONNECTIONS=100 BENCH_LOAD=node npm run bench:proxy
 *   BENCH_SCHEDULING=round-robin npm run bench:proxy  (node:cluster's primary hands out connections)
 *   BENCH_CPU_PROF=/tmp/prof npm run bench:proxy     (CPU profiles of the Gasper proxy processes)
 *
 * Load comes from `wrk` when it is on PATH (apt-get install wrk), otherwise from a small
 * kept-alive load generator in node (BENCH_LOAD=node forces it). Every process (upstream, Gasper
 * proxy, nginx, load generator) is a process of its own, and every socket is on 127.0.0.1. Needs
 * redis-server and nginx (/usr/sbin/nginx).
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNginx } from './support/nginx.ts';
import { compiledModule } from './support/compiled.ts';
import { cpuSeconds, freePort, withChildren } from './support/processes.ts';
import { publishInstances, withScratch } from './support/scratch.ts';
import { forkRole as forkRoleOf, runBench } from './support/roles.ts';
import { runUpstream, upstreamAccepted } from './support/upstream.ts';
import { hasWrk, runWrk, type WrkResult } from './support/wrk.ts';

const self = fileURLToPath(import.meta.url);

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const processes = Number(process.env.BENCH_PROCESSES ?? os.availableParallelism());
const scheduling = process.env.BENCH_SCHEDULING === 'round-robin' ? 'round-robin' : 'kernel';
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const warmupSeconds = 1;
const APP = 'bench';
const DOMAIN = 'bench.test';
const HOST = `${APP}.${DOMAIN}`;
const BODY = 'hello from the upstream\n';

type LoadResult = WrkResult;

type Message = { port: number } | { result: LoadResult } | { error: string };

// ------------------------------------------------------------------------------------------------
// Roles run in child processes
// ------------------------------------------------------------------------------------------------

async function runGasperProxy(redisUrl: string): Promise<void> {
  const { startProxyProcesses } =
    await compiledModule<typeof import('../src/proxy/processes.ts')>('src/proxy/processes.ts');
  const { createLogger } = await compiledModule<typeof import('../src/core/log.ts')>('src/core/log.ts');
  const profile = process.env.BENCH_CPU_PROF;
  // The route was published before: each process applies the snapshot before it listens.
  const proxy = await startProxyProcesses(
    {
      proxy: { host: '127.0.0.1', port: 0, domain: DOMAIN, redisUrl },
      processes,
      scheduling,
      ...(profile ? { execArgv: ['--cpu-prof', '--cpu-prof-dir', profile] } : {}),
    },
    { log: createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent') },
  );
  process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
  process.send!({ port: proxy.port } satisfies Message);
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * `connections` kept-alive sockets, each sending the next GET as soon as the previous response
 * is complete, for `durationMs`. Responses are parsed just enough: status, Content-Length or
 * chunked framing.
 */
async function runNodeLoad(port: number, conns: number, durationMs: number): Promise<LoadResult> {
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nUser-Agent: gasper-bench\r\nAccept: */*\r\n\r\n`);
  const latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  let non2xx = 0;
  let recording = true;
  let stopping = false;

  const one = () =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
      let buf: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      const sendNext = () => {
        if (stopping) {
          socket.destroy();
          return;
        }
        sentAt = performance.now();
        socket.write(request);
      };
      socket.on('connect', sendNext);
      socket.on('error', () => {
        errors++;
      });
      socket.on('close', () => {
        if (stopping) resolve();
        else setTimeout(() => void one().then(resolve), 10); // reconnect after a dropped connection
      });
      socket.on('data', (chunk: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          const headEnd = buf.indexOf('\r\n\r\n');
          if (headEnd === -1) return;
          const head = buf.subarray(0, headEnd).toString('latin1');
          const status = Number(head.slice(9, 12));
          const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          let total: number;
          if (cl) {
            total = headEnd + 4 + Number(cl[1]);
            if (buf.length < total) return;
          } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
            const end = buf.indexOf('\r\n0\r\n\r\n', headEnd);
            if (end === -1) return;
            total = end + 7;
          } else {
            errors++;
            socket.destroy();
            return;
          }
          buf = buf.subarray(total);
          if (recording) {
            requests++;
            latencies.push(performance.now() - sentAt);
            if (status < 200 || status > 299) non2xx++;
          }
          sendNext();
        }
      });
    });

  const started = performance.now();
  const all = Array.from({ length: conns }, () => one());
  await new Promise((r) => setTimeout(r, durationMs));
  recording = false;
  const elapsed = (performance.now() - started) / 1000;
  stopping = true;
  await Promise.race([Promise.all(all), new Promise((r) => setTimeout(r, 5000))]);
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests,
    errors,
    non2xx,
    seconds: elapsed,
    rps: requests / elapsed,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

// ------------------------------------------------------------------------------------------------
// Orchestration
// ------------------------------------------------------------------------------------------------

const children: ChildProcess[] = [];

/** Forks this file in `role`; resolves with its first message (a port or a result). */
function forkRole(role: string, args: string[]): { child: ChildProcess; message: Promise<Message> } {
  const execArgv = ['--import', 'tsx'];
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the Gasper proxy process there.
  if (role === 'proxy' && process.env.BENCH_CPU_PROF)
    execArgv.push('--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF);
  return forkRoleOf<Message>(self, role, args, children, execArgv);
}

/** One GET with the bench Host; resolves with the status and body. */
function probe(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/', headers: { host: HOST }, agent: false, timeout: 2000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', reject);
  });
}

async function untilServing(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await probe(port).catch((err: Error) => ({ status: 0, body: err.message }));
    if (result.status === 200 && result.body === BODY) return;
    if (Date.now() > deadline)
      throw new Error(`${what} did not serve the upstream body: ${result.status} ${result.body}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function loadWithWrk(port: number, durationS: number): Promise<LoadResult> {
  return runWrk({ url: `http://127.0.0.1:${port}/`, host: HOST, connections, seconds: durationS, latency: true });
}

async function loadWithNode(port: number, durationS: number): Promise<LoadResult> {
  const { child, message } = forkRole('load', [String(port), String(connections), String(durationS * 1000)]);
  const m = await message;
  child.kill();
  if ('error' in m) throw new Error(m.error);
  if (!('result' in m)) throw new Error('load generator sent no result');
  return m.result;
}

async function main(): Promise<void> {
  await withScratch('proxy', children, async (dir, redisUrl) => {
    const useWrk = process.env.BENCH_LOAD !== 'node' && (await hasWrk());
    const load = useWrk ? loadWithWrk : loadWithNode;
    const upstream = forkRole('upstream', []);
    const upstreamMsg = await upstream.message;
    if (!('port' in upstreamMsg)) throw new Error('upstream did not report a port');
    const upstreamPort = upstreamMsg.port;

    await publishInstances(redisUrl, [{ app: APP, address: '127.0.0.1', port: upstreamPort }]);

    const gasper = forkRole('proxy', [redisUrl]);
    const upstreamPid = upstream.child.pid!;
    const gasperMsg = await gasper.message;
    if (!('port' in gasperMsg)) throw new Error('proxy did not report a port');
    const gasperPort = gasperMsg.port;

    const nginxPort = await freePort();
    const nginx = await startNginx({
      dir: path.join(dir, 'nginx'),
      port: nginxPort,
      upstreamPort,
      workers: processes,
      serverName: HOST,
    });
    children.push(nginx);

    await untilServing(upstreamPort, 'upstream');
    await untilServing(gasperPort, 'Gasper proxy');
    await untilServing(nginxPort, 'nginx');

    const cpus = os.cpus().length;
    console.log(
      `proxy bench: Gasper with ${processes} process(es) (${scheduling} scheduling) vs nginx with ${processes} worker(s), ` +
        `${connections} kept-alive connections, ${seconds} s each after ${warmupSeconds} s warm-up, ` +
        `load from ${useWrk ? 'wrk -t1' : 'a node load generator'}, ${cpus} CPU(s), load average ${os.loadavg()[0]!.toFixed(1)}, ` +
        `body ${BODY.length} bytes`,
    );
    const nginxPids = await withChildren(nginx.pid!);
    // With one process the proxy runs in the role's process; with more, in its cluster children.
    const gasperPids = await withChildren(gasper.child.pid!);
    const results: [string, LoadResult & { proxyUs: number; upstreamUs: number; upstreamConns: number }][] = [];
    const targets: [string, number, number[]][] = [
      ['direct', upstreamPort, []],
      ['gasper', gasperPort, gasperPids],
      ['nginx', nginxPort, nginxPids],
    ];
    for (const [name, port, proxyPids] of targets) {
      await load(port, warmupSeconds);
      const eachBefore = await Promise.all(proxyPids.map((pid) => cpuSeconds([pid])));
      const before = [
        await cpuSeconds(proxyPids),
        await cpuSeconds([upstreamPid]),
        await upstreamAccepted(upstream.child),
      ];
      const r = await load(port, seconds);
      const after = [
        await cpuSeconds(proxyPids),
        await cpuSeconds([upstreamPid]),
        await upstreamAccepted(upstream.child),
      ];
      const perRequestUs = (i: number) => ((after[i]! - before[i]!) / r.requests) * 1e6;
      // How evenly the load spread over the proxy's processes (nginx: master first, then workers).
      const each = (await Promise.all(proxyPids.map((pid) => cpuSeconds([pid])))).map((a, i) => a - eachBefore[i]!);
      const sum = each.reduce((a, b) => a + b, 0);
      if (proxyPids.length > 1)
        console.log(
          `${name}: CPU share per process ${each.map((c) => `${((c / sum) * 100).toFixed(0)}%`).join(' / ')}`,
        );
      results.push([
        name,
        {
          ...r,
          proxyUs: proxyPids.length ? perRequestUs(0) : NaN,
          upstreamUs: perRequestUs(1),
          upstreamConns: after[2]! - before[2]!,
        },
      ]);
    }
    const pad = (s: string, n: number) => s.padStart(n);
    console.log(
      `${'target'.padEnd(8)}${pad('req/s', 10)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('requests', 10)}${pad('errors', 8)}` +
        `${pad('non-2xx', 9)}${pad('proxy CPU µs/req', 18)}${pad('upstream CPU µs/req', 21)}${pad('upstream conns', 16)}`,
    );
    for (const [name, r] of results) {
      console.log(
        `${name.padEnd(8)}${pad(r.rps.toFixed(0), 10)}${pad(r.p50Ms.toFixed(2), 9)}${pad(r.p99Ms.toFixed(2), 9)}` +
          `${pad(String(r.requests), 10)}${pad(String(r.errors), 8)}${pad(String(r.non2xx), 9)}` +
          `${pad(Number.isNaN(r.proxyUs) ? '-' : r.proxyUs.toFixed(1), 18)}${pad(r.upstreamUs.toFixed(1), 21)}` +
          `${pad(String(r.upstreamConns), 16)}`,
      );
    }
    const g = results.find(([n]) => n === 'gasper')![1];
    const x = results.find(([n]) => n === 'nginx')![1];
    const throughput = g.rps / x.rps;
    const p99 = g.p99Ms / x.p99Ms;
    console.log(
      `gasper/nginx: throughput ${throughput.toFixed(2)}x (goal ≥ 0.5x: ${throughput >= 0.5 ? 'met' : 'missed'}), ` +
        `p50 ${(g.p50Ms / x.p50Ms).toFixed(2)}x, p99 ${p99.toFixed(2)}x (goal ≤ 2x: ${p99 <= 2 ? 'met' : 'missed'}), ` +
        `proxy CPU per request ${(g.proxyUs / x.proxyUs).toFixed(2)}x`,
    );
  });
}

await runBench(main, {
  upstream: () => runUpstream(BODY),
  proxy: (args) => runGasperProxy(args[0]!),
  load: async (args) => {
    const result = await runNodeLoad(Number(args[0]), Number(args[1]), Number(args[2]));
    process.send!({ result } satisfies Message);
  },
});
