/**
 * Deploy latency: POST /apps → first HTTP 200 through the proxy, N times, beside the floor
 * measured in the same run: `docker run` of the same image and app to its first HTTP 200.
 * Needs Docker, redis-server and the runtime images (scripts/setup.sh).
 *   npm run bench:deploy            (BENCH_N=20 for more rounds)
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/core/config.ts';
import { createLogger } from '../src/core/log.ts';
import { startPlatform } from '../src/platform.ts';
import { createGitRepo, helloNodeApp } from '../test/support/git-fixture.ts';
import { benchPlatformEnv } from './support/platform-env.ts';

const run = promisify(execFile);
const rounds = Number(process.env.BENCH_N ?? 10);
const image = 'gasper/node:latest';

/** GET until a 200 (refused connections and other statuses count as "not yet"). */
async function untilOk(port: number, host: string, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
    });
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`no 200 from ${host} within ${deadlineMs} ms (last status ${status})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function rawFloor(appDir: string): Promise<number> {
  const name = `gasper-bench-raw-${crypto.randomBytes(3).toString('hex')}`;
  const started = performance.now();
  await run('docker', [
    'run',
    '-d',
    '--name',
    name,
    '-p',
    '127.0.0.1::8080',
    '-e',
    'PORT=8080',
    '-v',
    `${appDir}:/app`,
    '-w',
    '/app',
    image,
    'sh',
    '-c',
    'node server.js',
  ]);
  try {
    const { stdout } = await run('docker', ['port', name, '8080/tcp']);
    const port = Number(stdout.trim().split('\n')[0]!.split(':').pop());
    await untilOk(port, `127.0.0.1:${port}`);
    return performance.now() - started;
  } finally {
    await run('docker', ['rm', '-f', name]);
  }
}

async function main(): Promise<void> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-bench-'));
  const repo = await createGitRepo(helloNodeApp('bench'));
  const token = crypto.randomBytes(16).toString('hex');
  const config = loadConfig(benchPlatformEnv(stateDir, token));
  const platform = await startPlatform(config, undefined, createLogger(config.logLevel));
  const apiPort = platform.api!.port;
  const proxyPort = platform.proxy!.port;
  const call = async (method: string, urlPath: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as { job?: { id: string; state?: string; error?: string } };
    if (res.status >= 400) throw new Error(`${method} ${urlPath}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const waitJob = async (id: string) => {
    for (;;) {
      const { job } = await call('GET', `/jobs/${id}`);
      if (job?.state === 'completed') return;
      if (job?.state === 'failed') throw new Error(`job ${id} failed: ${job.error}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const raw: number[] = [];
  const gasper: number[] = [];
  try {
    // One of each first, untimed: warms the page cache and Docker's image layers for both sides.
    await rawFloor(repo.dir);
    for (let i = 0; i <= rounds; i++) {
      const name = `bench-${i}-${crypto.randomBytes(2).toString('hex')}`;
      const started = performance.now();
      await call('POST', '/apps', { name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' });
      await untilOk(proxyPort, `${name}.${config.domain}`);
      const elapsed = performance.now() - started;
      if (i > 0) gasper.push(elapsed);
      const { job } = await call('DELETE', `/apps/${name}`);
      await waitJob(job!.id);
      // Interleaved so that any drift of the machine affects both series alike.
      if (i > 0) raw.push(await rawFloor(repo.dir));
      process.stderr.write(
        `round ${i}/${rounds}${i === 0 ? ' (warm-up)' : `: gasper ${elapsed.toFixed(0)} ms, raw ${raw.at(-1)!.toFixed(0)} ms`}\n`,
      );
    }
  } finally {
    await platform.close();
    await repo.remove();
    await fs.rm(stateDir, { recursive: true, force: true });
  }
  const row = (label: string, values: number[]) =>
    `${label.padEnd(40)} p50 ${percentile(values, 50).toFixed(0).padStart(5)} ms   p90 ${percentile(values, 90).toFixed(0).padStart(5)} ms`;
  console.log(`\ndeploy of a no-dependency node app, ${rounds} rounds`);
  console.log(row('raw floor (docker run → first 200)', raw));
  console.log(row('gasper (POST /apps → first 200 via proxy)', gasper));
  console.log(
    `ratio p50 ${(percentile(gasper, 50) / percentile(raw, 50)).toFixed(2)}×   p90 ${(percentile(gasper, 90) / percentile(raw, 90)).toFixed(2)}×   (goal: p50 ≤ 1.3×)`,
  );
}

await main();
