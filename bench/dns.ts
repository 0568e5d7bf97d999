/**
 * DNS throughput: Gasper's DNS against dnsmasq, both answering the same names (A records of
 * BENCH_APPS apps) on 127.0.0.1, loaded by dnsperf in the same run, rounds alternating.
 *
 *   npm run bench:dns
 *   BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_OUTSTANDING=200 npm run bench:dns
 *   BENCH_DNS2=1 npm run bench:dns     (adds dns2's README example server, for reference)
 *
 * Needs dnsperf (Debian dnsperf), dnsmasq (/usr/sbin/dnsmasq, Debian dnsmasq-base) and
 * redis-server. Gasper's DNS runs in a process of its own, fed through the real event stream.
 * Prints queries per second of each, the ratio, and lost queries. Goal: ≥ 0.30× dnsmasq, 0 lost.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { publishInstances, withScratch } from './support/scratch.ts';
import { forkRolePort, runBench } from './support/roles.ts';

const self = fileURLToPath(import.meta.url);
const run = promisify(execFile);

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const outstanding = Number(process.env.BENCH_OUTSTANDING ?? 100);
const appCount = Number(process.env.BENCH_APPS ?? 100);
const dnsmasqBin = process.env.DNSMASQ ?? '/usr/sbin/dnsmasq';
const DOMAIN = 'bench.test';
const ADDRESS = '127.0.0.1';
const apps = Array.from({ length: appCount }, (_, i) => `app${i}`);

interface PerfResult {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  avgLatencyMs: number;
}

// ------------------------------------------------------------------------------------------------
// Gasper's DNS, in a child process
// ------------------------------------------------------------------------------------------------

async function runGasperDns(redisUrl: string): Promise<void> {
  const { startDns } = await import('../src/dns/index.ts');
  const { createLogger } = await import('../src/core/log.ts');
  const dns = await startDns(
    {
      host: '127.0.0.1',
      port: 0,
      redisUrl,
      apex: DOMAIN,
      ttl: 30,
      nameservers: [`ns1.${DOMAIN}`],
      proxyAddresses: [ADDRESS],
      nsAddresses: [ADDRESS],
    },
    { log: createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent') },
  );
  const deadline = Date.now() + 10_000;
  while (dns.zone.apps.size < apps.length) {
    if (Date.now() > deadline) throw new Error(`DNS has ${dns.zone.apps.size} of ${apps.length} apps after 10 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
  process.on('SIGTERM', () => void dns.close().then(() => process.exit(0)));
  process.send!({ port: dns.port });
}

/** dns2's README example: a UDP server whose handler answers every question with an A record. */
async function runBareDns2(): Promise<void> {
  const dns2 = (await import('dns2')).default;
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = dns2.Packet.createResponseFromRequest(request);
      const [question] = request.questions;
      response.answers.push({
        name: question!.name,
        type: dns2.Packet.TYPE.A,
        class: dns2.Packet.CLASS.IN,
        ttl: 30,
        address: ADDRESS,
      } as never);
      void send(response);
    },
  });
  const addresses = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  process.send!({ port: addresses.udp!.port });
}

// ------------------------------------------------------------------------------------------------
// Orchestration
// ------------------------------------------------------------------------------------------------

const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // dnsmasq needs the UDP port free too.
    const dgram = await import('node:dgram');
    const udp = dgram.createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (free) return port;
  }
}

async function startDnsmasq(dir: string, port: number): Promise<ChildProcess> {
  const conf = [
    `port=${port}`,
    'listen-address=127.0.0.1',
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'no-poll',
    'user=',
    `local=/${DOMAIN}/`,
    `auth-ttl=30`,
    ...apps.map((app) => `host-record=${app}.${DOMAIN},${ADDRESS}`),
  ].join('\n');
  const confPath = path.join(dir, 'dnsmasq.conf');
  await fs.writeFile(confPath, `${conf}\n`);
  const child = spawn(dnsmasqBin, ['--keep-in-foreground', `--conf-file=${confPath}`, '--pid-file'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  child.once('error', (err) => console.error(`cannot start dnsmasq (${dnsmasqBin}): ${err.message}`));
  return child;
}

/** Waits (bounded) until `port` answers the first app's A record with the bench address. */
async function untilAnswering(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const out = await run('dig', [
      '@127.0.0.1',
      '-p',
      String(port),
      '+tries=1',
      '+time=1',
      '+short',
      `${apps[0]}.${DOMAIN}`,
      'A',
    ])
      .then((r) => r.stdout.trim())
      .catch((err: Error) => err.message);
    if (out === ADDRESS) return;
    if (Date.now() > deadline) throw new Error(`${what} does not answer ${apps[0]}.${DOMAIN}: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function dnsperf(port: number, queryFile: string, durationS: number): Promise<PerfResult> {
  const args = [
    '-s',
    '127.0.0.1',
    '-p',
    String(port),
    '-d',
    queryFile,
    '-l',
    String(durationS),
    '-q',
    String(outstanding),
    '-t',
    '2',
    '-T',
    '1',
    '-c',
    '1',
  ];
  const { stdout } = await run('dnsperf', args, { timeout: (durationS + 30) * 1000 }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT')
        throw new Error('dnsperf is not installed (apt-get install dnsperf; scripts/setup.sh does it)');
      throw err;
    },
  );
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Forks this file in `role`; resolves with the port it reports. */
const forkRole = (role: string, arg: string) => forkRolePort(self, role, [arg], children);

async function main(): Promise<void> {
  await withScratch('dns', children, async (dir, redisUrl) => {
    await publishInstances(
      redisUrl,
      apps.map((app) => ({ app, address: ADDRESS, port: 8080 })),
    );

    const gasperPort = await forkRole('dns', redisUrl);
    const dnsmasqPort = await freePort();
    await startDnsmasq(dir, dnsmasqPort);
    await untilAnswering(gasperPort, 'Gasper DNS');
    await untilAnswering(dnsmasqPort, 'dnsmasq');

    const queryFile = path.join(dir, 'queries.txt');
    await fs.writeFile(queryFile, apps.map((app) => `${app}.${DOMAIN} A\n`).join(''));
    console.log(
      `dns bench: dnsperf, ${outstanding} queries outstanding, ${seconds} s per round after 1 s warm-up, ${rounds} round(s), ` +
        `${apps.length} names (A), ${os.cpus().length} CPU(s)`,
    );
    const targets: [string, number][] = [
      ['gasper', gasperPort],
      ['dnsmasq', dnsmasqPort],
    ];
    if (process.env.BENCH_DNS2) targets.push(['dns2', await forkRole('dns2', '')]);
    for (const [, port] of targets) await dnsperf(port, queryFile, 1);
    const results = new Map<string, PerfResult[]>(targets.map(([name]) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, port] of targets) results.get(name)!.push(await dnsperf(port, queryFile, seconds));
    }
    const pad = (s: string, n: number) => s.padStart(n);
    console.log(
      `${'target'.padEnd(9)}${pad('qps (median)', 14)}${pad('qps per round', 24)}${pad('avg ms', 9)}${pad('sent', 10)}${pad('lost', 7)}`,
    );
    const summary = new Map<string, { qps: number; lost: number }>();
    for (const [name, runs] of results) {
      const qps = median(runs.map((r) => r.qps));
      const lost = runs.reduce((sum, r) => sum + r.lost, 0);
      summary.set(name, { qps, lost });
      console.log(
        `${name.padEnd(9)}${pad(qps.toFixed(0), 14)}${pad(runs.map((r) => r.qps.toFixed(0)).join(' / '), 24)}` +
          `${pad(median(runs.map((r) => r.avgLatencyMs)).toFixed(3), 9)}${pad(String(runs.reduce((s, r) => s + r.sent, 0)), 10)}${pad(String(lost), 7)}`,
      );
    }
    const g = summary.get('gasper')!;
    const d = summary.get('dnsmasq')!;
    const ratio = g.qps / d.qps;
    console.log(
      `gasper/dnsmasq: ${ratio.toFixed(2)}x throughput (goal ≥ 0.30), lost: gasper ${g.lost}, dnsmasq ${d.lost} (goal 0)`,
    );
  });
}

await runBench(main, {
  dns2: () => runBareDns2(),
  dns: (args) => runGasperDns(args[0]!),
});
