/**
 * CLI start-up: wall time of `gasper --help` and `gasper apps list` (the compiled CLI,
 * bin/gasper.js → dist/cli.js, against a running API) compared with `node -e 0`, the floor any
 * Node.js command pays. Goal: `gasper --help` ≤ 3× `node -e 0`. The TypeScript sources run
 * through tsx (what `gasper` was before the build step) are timed too, for comparison.
 *
 *   npm run bench:cli
 *   BENCH_RUNS=30 npm run bench:cli
 *
 * Builds dist/ when it is stale, starts a private redis-server and the API on free loopback
 * ports, then runs each command BENCH_RUNS times (default 15), interleaved so a busy machine
 * slows them alike, and prints the median and p90 of each and the ratios of the medians.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureAdminToken } from '../src/api/auth.ts';
import { startApi } from '../src/api/index.ts';
import { createLogger } from '../src/core/log.ts';
import { connectRedis, startEmbeddedRedis } from '../src/core/redis.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import { ensureCliBuilt, gasperBin } from '../test/support/cli.ts';

const runs = Number(process.env.BENCH_RUNS ?? 15);
const deadline = Date.now() + 50_000;

function time(args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      args,
      { env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ...env } },
      (err, _o, stderr) =>
        err ? reject(new Error(`${args.join(' ')}: ${stderr}`)) : resolve(performance.now() - started),
    ),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;

await ensureCliBuilt();
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-bench-cli-'));
const redis = await startEmbeddedRedis(path.join(dir, 'redis'));
const token = `gsp_bench_${crypto.randomBytes(16).toString('hex')}`;
const admin = connectRedis(redis.url);
await ensureAdminToken(admin, token);
admin.disconnect();
const api = await startApi(
  {
    host: '127.0.0.1',
    port: 0,
    redisUrl: redis.url,
    jobAttempts: 1,
    domain: 'bench.test',
    proxyPort: 8080,
    allowLocalRepos: true,
    nodeTimeoutMs: 30_000,
    authFailuresPerMinute: 1000,
    changesPerMinute: 1000,
  },
  { log: createLogger('silent'), secrets: createSecretBox(crypto.randomBytes(32).toString('hex')) },
);
const client = { GASPER_URL: `http://127.0.0.1:${api.port}`, GASPER_TOKEN: token };
const cases: Array<[string, string[], Record<string, string>]> = [
  ['node -e 0', ['-e', '0'], {}],
  ['gasper --help', [gasperBin, '--help'], {}],
  ['gasper apps list', [gasperBin, 'apps', 'list'], client],
  ['gasper --help (sources through tsx)', [gasperBin, '--help'], { GASPER_FROM_SOURCE: '1' }],
];
const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]));
try {
  console.log(
    `CLI start-up: ${runs} runs each, ${os.availableParallelism()} CPU(s), load average ${os.loadavg()[0]!.toFixed(1)}`,
  );
  for (const [, args, env] of cases) await time(args, env); // warm the file cache
  let done = 0;
  for (; done < runs && Date.now() < deadline; done++) {
    for (const [name, args, env] of cases) {
      // The slow tsx case every third round only: the figure is for comparison, and it costs seconds.
      if (name.includes('tsx') && done % 3 !== 0) continue;
      samples.get(name)!.push(await time(args, env));
    }
  }
  const floor = median(samples.get('node -e 0')!);
  for (const [name] of cases) {
    const xs = samples.get(name)!;
    const ratio = median(xs) / floor;
    console.log(
      `${name.padEnd(36)} median ${median(xs).toFixed(0).padStart(5)} ms  p90 ${p90(xs).toFixed(0).padStart(5)} ms  ${ratio.toFixed(2)}× node -e 0  (${xs.length} runs)`,
    );
  }
  const help = median(samples.get('gasper --help')!) / floor;
  console.log(`goal gasper --help ≤ 3× node -e 0: ${help <= 3 ? 'met' : 'not met'} (${help.toFixed(2)}×)`);
} finally {
  await api.close();
  await redis.close();
  await fs.rm(dir, { recursive: true, force: true });
}
