/**
 * HTTPS throughput: Gasper's proxy against nginx, both terminating TLS with the same certificate
 * (an ECDSA P-256 wildcard made by openssl, signed by a throw-away CA) and the same worker count,
 * in front of the same upstream (a node:http server answering a small body). Two measurements:
 *
 *   keep-alive   requests per second over kept-alive HTTPS connections (TLS record cost)
 *   handshakes   new TLS connections per second: every request sends `Connection: close`, so
 *                each one costs a full handshake (wrk does not resume sessions)
 *
 *   npm run bench:tls
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=100 npm run bench:tls
 *
 * Two more targets, handshakes only: a bare `node:https` server answering itself (runNodeFloor),
 * the ceiling of any server on Node's TLS, and a minimal proxy on Gasper's stack (runNodeProxy),
 * the ceiling of any proxy on it.
 *
 * Load from `wrk -t1` (apt-get install wrk); nginx from /usr/sbin/nginx (nginx-light); one
 * Gasper proxy process and one nginx worker (BENCH_WORKERS changes nginx's; Gasper runs one
 * process here). Bounded: 3 s of warm-up, then four runs of BENCH_SECONDS (default 3).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import type { Dispatcher } from 'undici';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { issueTestCertificate, makeTestCa } from '../test/support/certificates.ts';
import { startNginx } from './support/nginx.ts';
import { compiledModule } from './support/compiled.ts';
import { cpuSeconds, freePort, withChildren } from './support/processes.ts';
import { publishInstances, withScratch } from './support/scratch.ts';
import { forkRolePort, runBench } from './support/roles.ts';
import { runUpstream } from './support/upstream.ts';
import { runWrk, type WrkResult } from './support/wrk.ts';

const self = fileURLToPath(import.meta.url);
const run = promisify(execFile);

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const workers = Number(process.env.BENCH_WORKERS ?? 1);
const APP = 'bench';
const DOMAIN = 'bench.test';
const HOST = `${APP}.${DOMAIN}`;
const BODY = 'hello from the upstream\n';
/** The TLS 1.2 suites Gasper allows (src/proxy/tls.ts), given to nginx too. */
const CIPHERS =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';

async function runGasperProxy(redisUrl: string, certFile: string, keyFile: string): Promise<void> {
  const { startProxy } = await compiledModule<typeof import('../src/proxy/index.ts')>('src/proxy/index.ts');
  const { createLogger } = await compiledModule<typeof import('../src/core/log.ts')>('src/core/log.ts');
  const proxy = await startProxy(
    { host: '127.0.0.1', port: 0, httpsPort: 0, domain: DOMAIN, redisUrl, tlsCertFile: certFile, tlsKeyFile: keyFile },
    { log: createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent') },
  );
  const deadline = Date.now() + 10_000;
  while (!proxy.routes.has(APP)) {
    if (Date.now() > deadline) throw new Error('proxy never got the bench route');
    await new Promise((r) => setTimeout(r, 10));
  }
  process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
  process.send!({ port: proxy.httpsPort! });
}

/**
 * Node's own ceiling: a bare `node:https` server with the same certificate and TLS policy that
 * answers the body itself (no route, no upstream). Its handshakes per second are what any proxy
 * written on Node's TLS could reach on this machine.
 */
async function runNodeFloor(certFile: string, keyFile: string): Promise<void> {
  const [{ tlsPolicy }, https, fs] = await Promise.all([
    import('../src/proxy/tls.ts'),
    import('node:https'),
    import('node:fs/promises'),
  ]);
  const bytes = Buffer.from(BODY);
  const server = https.createServer(
    { ...tlsPolicy, cert: await fs.readFile(certFile), key: await fs.readFile(keyFile) },
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': bytes.length });
      res.end(bytes);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send!({ port: (server.address() as { port: number }).port });
}

/**
 * A minimal proxy on Gasper's stack: `node:https` and an undici pool to the upstream, forwarding
 * each request with no routing, header rewriting, retries or metrics. Between the bare server and
 * Gasper, it shows what forwarding a request costs a Node process on each new connection.
 */
async function runNodeProxy(certFile: string, keyFile: string, upstreamPort: string): Promise<void> {
  const [{ tlsPolicy }, https, fs, { Pool }] = await Promise.all([
    import('../src/proxy/tls.ts'),
    import('node:https'),
    import('node:fs/promises'),
    import('undici'),
  ]);
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 256, pipelining: 1 });
  const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding']);
  const server = https.createServer(
    { ...tlsPolicy, cert: await fs.readFile(certFile), key: await fs.readFile(keyFile) },
    (req, res) => {
      pool.dispatch({ path: req.url ?? '/', method: 'GET', headers: ['host', 'upstream'] }, {
        onConnect() {},
        onHeaders(status: number, raw: Buffer[]) {
          const headers: string[] = [];
          for (let i = 0; i < raw.length; i += 2) {
            const name = raw[i]!.toString('latin1');
            if (!hopByHop.has(name.toLowerCase())) headers.push(name, raw[i + 1]!.toString('latin1'));
          }
          res.writeHead(status, headers);
          return true;
        },
        onData: (chunk: Buffer) => res.write(chunk),
        onComplete: () => res.end(),
        onError: (err: Error) => res.destroy(err),
      } as unknown as Dispatcher.DispatchHandler);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send!({ port: (server.address() as { port: number }).port });
}

const children: ChildProcess[] = [];

const forkRole = (role: string, args: string[]) => forkRolePort(self, role, args, children);

/** curl with the CA until the target serves the upstream's body over HTTPS. */
async function untilServing(port: number, caFile: string, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const body = await run('curl', [
      '-s',
      '--max-time',
      '2',
      '--resolve',
      `${HOST}:${port}:127.0.0.1`,
      '--cacert',
      caFile,
      `https://${HOST}:${port}/`,
    ]).then(
      (r) => r.stdout,
      () => '',
    );
    if (body === BODY) return;
    if (Date.now() > deadline) throw new Error(`${what} does not serve the upstream over HTTPS`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Load = WrkResult & {
  /** CPU time of the proxy's processes per request, µs. */
  cpuUs?: number;
};

const wrk = (port: number, durationS: number, close: boolean): Promise<Load> =>
  runWrk({ url: `https://127.0.0.1:${port}/`, host: HOST, connections, seconds: durationS, close });

async function main(): Promise<void> {
  await withScratch('tls', children, async (dir, redisUrl) => {
    const ca = await makeTestCa(dir);
    const cert = await issueTestCertificate(ca, [`*.${DOMAIN}`, DOMAIN], 'wildcard');
    const upstreamPort = await forkRole('upstream', []);
    await publishInstances(redisUrl, [{ app: APP, address: '127.0.0.1', port: upstreamPort }]);
    const gasperPort = await forkRole('proxy', [redisUrl, cert.certFile, cert.keyFile]);
    const gasperPid = children.at(-1)!.pid!;
    const floorPort = await forkRole('node-floor', [cert.certFile, cert.keyFile]);
    const floorPid = children.at(-1)!.pid!;
    const minimalPort = await forkRole('node-proxy', [cert.certFile, cert.keyFile, String(upstreamPort)]);
    const minimalPid = children.at(-1)!.pid!;
    const nginxPort = await freePort();
    const nginx = await startNginx({
      dir: path.join(dir, 'nginx'),
      port: nginxPort,
      upstreamPort,
      workers,
      serverName: HOST,
      tls: { certFile: cert.certFile, keyFile: cert.keyFile, ciphers: CIPHERS },
    });
    children.push(nginx);
    await untilServing(gasperPort, ca.certFile, 'Gasper proxy');
    await untilServing(nginxPort, ca.certFile, 'nginx');
    await untilServing(floorPort, ca.certFile, 'the bare node:https server');
    await untilServing(minimalPort, ca.certFile, 'the minimal node:https proxy');

    const pids = {
      gasper: [gasperPid],
      nginx: await withChildren(nginx.pid!),
      node: [floorPid],
      'min-proxy': [minimalPid],
    };
    console.log(
      `tls bench: ${connections} connections, ${seconds} s each after a warm-up, wrk -t1, ` +
        `${os.cpus().length} CPU(s), 1 Gasper proxy process vs ${workers} nginx worker(s), ECDSA P-256 certificate`,
    );
    // Warm-up: Node's JIT needs a couple of seconds of load before its speed is its own.
    await wrk(gasperPort, 2, false);
    await wrk(nginxPort, 1, false);
    await wrk(floorPort, 2, false);
    await wrk(minimalPort, 2, false);
    const results: Record<string, Record<string, Load>> = { 'keep-alive': {}, handshakes: {} };
    for (const [mode, close] of [
      ['keep-alive', false],
      ['handshakes', true],
    ] as const) {
      for (const [name, port] of [
        ['gasper', gasperPort],
        ['nginx', nginxPort],
        // What forwarding alone costs on Gasper's stack, kept alive and per new connection.
        ['min-proxy', minimalPort],
        // Node's ceiling matters for handshakes, where Node's TLS set-up is the cost.
        ...(close ? ([['node', floorPort]] as const) : []),
      ] as const) {
        const before = await cpuSeconds(pids[name]);
        const r = await wrk(port, seconds, close);
        r.cpuUs = (((await cpuSeconds(pids[name])) - before) / r.requests) * 1e6;
        results[mode]![name] = r;
      }
    }
    const pad = (s: string, n: number) => s.padStart(n);
    console.log(
      `${'measure'.padEnd(12)}${'target'.padEnd(10)}${pad('req/s', 10)}${pad('requests', 10)}${pad('errors', 8)}${pad('non-2xx', 9)}${pad('proxy CPU µs/req', 18)}`,
    );
    for (const [mode, byTarget] of Object.entries(results)) {
      for (const [name, r] of Object.entries(byTarget)) {
        console.log(
          `${mode.padEnd(12)}${name.padEnd(10)}${pad(r.rps.toFixed(0), 10)}${pad(String(r.requests), 10)}` +
            `${pad(String(r.errors), 8)}${pad(String(r.non2xx), 9)}${pad(r.cpuUs!.toFixed(0), 18)}`,
        );
      }
    }
    const ratio = (mode: string) => results[mode]!.gasper!.rps / results[mode]!.nginx!.rps;
    const verdict = (r: number) => (r >= 0.5 ? 'meets' : 'below');
    const cpuRatio = (mode: string) => results[mode]!.gasper!.cpuUs! / results[mode]!.nginx!.cpuUs!;
    console.log(
      `CPU per request, gasper/nginx: keep-alive ${cpuRatio('keep-alive').toFixed(2)}x, handshakes ${cpuRatio('handshakes').toFixed(2)}x ` +
        `(load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs: a busy machine skews req/s more than CPU per request)`,
    );
    console.log(
      `gasper/nginx: keep-alive ${ratio('keep-alive').toFixed(2)}x (${verdict(ratio('keep-alive'))} the 0.5x goal), ` +
        `new TLS handshakes ${ratio('handshakes').toFixed(2)}x (${verdict(ratio('handshakes'))} the 0.5x goal)`,
    );
    const floor = results.handshakes!.node!.rps;
    console.log(
      `a bare node:https server answering itself (no proxying): ${floor.toFixed(0)} handshakes/s, ` +
        `${(floor / results.handshakes!.nginx!.rps).toFixed(2)}x nginx's proxying; Gasper reaches ` +
        `${(results.handshakes!.gasper!.rps / floor).toFixed(2)}x of that ceiling`,
    );
    const vs = (mode: string, a: string, b: string) => results[mode]![a]!.rps / results[mode]![b]!.rps;
    const minimal = (mode: string) => results[mode]!['min-proxy']!.rps.toFixed(0);
    console.log(
      `a minimal node:https proxy (an undici pool, nothing else): keep-alive ${minimal('keep-alive')} req/s ` +
        `(${vs('keep-alive', 'min-proxy', 'nginx').toFixed(2)}x nginx's), handshakes ${minimal('handshakes')}/s ` +
        `(${vs('handshakes', 'min-proxy', 'nginx').toFixed(2)}x nginx's); Gasper reaches ` +
        `${vs('keep-alive', 'gasper', 'min-proxy').toFixed(2)}x and ${vs('handshakes', 'gasper', 'min-proxy').toFixed(2)}x of it`,
    );
  });
}

await runBench(main, {
  upstream: () => runUpstream(BODY),
  proxy: (args) => runGasperProxy(args[0]!, args[1]!, args[2]!),
  'node-floor': (args) => runNodeFloor(args[0]!, args[1]!),
  'node-proxy': (args) => runNodeProxy(args[0]!, args[1]!, args[2]!),
});
