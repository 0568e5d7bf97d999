/**
 * Deploy latency: POST /apps → first HTTP 200 through the proxy, N times, beside the floor
 * measured in the same run: `docker run` of the same image and app to its first HTTP 200.
 * Needs Docker, redis-server and the runtime images (scripts/setup.sh).
 *   npm run bench:deploy            (BENCH_N=20 for more rounds)
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { createGitRepo, helloNodeApp } from '../test/support/git-fixture.ts';
import { percentile, startBenchPlatform, untilBody } from './support/bench-platform.ts';

const run = promisify(execFile);
const rounds = Number(process.env.BENCH_N ?? 10);
const image = 'gasper/node:latest';

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
    await untilBody(port, `127.0.0.1:${port}`, () => true, 30_000);
    return performance.now() - started;
  } finally {
    await run('docker', ['rm', '-f', name]);
  }
}

async function main(): Promise<void> {
  const repo = await createGitRepo(helloNodeApp('bench'));
  const platform = await startBenchPlatform();
  const { call, waitJob, proxyPort } = platform;
  const raw: number[] = [];
  const gasper: number[] = [];
  try {
    // One of each first, untimed: warms the page cache and Docker's image layers for both sides.
    await rawFloor(repo.dir);
    for (let i = 0; i <= rounds; i++) {
      const name = `bench-${i}-${crypto.randomBytes(2).toString('hex')}`;
      const started = performance.now();
      await call('POST', '/apps', { name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' });
      await untilBody(proxyPort, platform.hostOf(name), () => true, 30_000);
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
