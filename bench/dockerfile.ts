/**
 * Dockerfile deploys (issue 14): a small Dockerfile app through Gasper (→ first 200 through the
 * proxy) against the same context built and run by hand (`docker build` + `docker run` → first
 * 200 on its published port), in the same run, rounds interleaved. Each side builds with the same
 * cache the other has, since a build step's cost is mostly whether the daemon reuses it:
 *   - first deploy: a new app (POST /apps), whose build has no cache (Gasper never uses another
 *     app's layers), against `docker build --no-cache`;
 *   - redeploy: a commit that changes server.js, deployed to the same app (POST
 *     /apps/:name/rebuild, the app's own earlier image as its cache), against `docker build` of
 *     the changed context with the daemon's cache (the previous round's layers).
 * Both rebuild the COPY layer and what follows it. Prints the medians and the ratios (goal ≤
 * 1.2×). Needs Docker, redis-server and the runtime images.
 *   npm run bench:dockerfile            (BENCH_N=10 for more rounds; default 5)
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createGitRepo } from '../test/support/git-fixture.ts';
import { median, startBenchPlatform, untilBody } from './support/bench-platform.ts';

const run = promisify(execFile);
const rounds = Number(process.env.BENCH_N ?? 5);
const dockerfile = 'FROM gasper/node:latest\nWORKDIR /srv\nCOPY server.js .\nEXPOSE 3000\nCMD ["node", "server.js"]\n';
const server = (round: string) =>
  `require('http').createServer((req, res) => res.end('${round}\\n')).listen(process.env.PORT || 3000);\n`;

/**
 * `docker build` + `docker run` of the context by hand → first 200; removes the container. The
 * image stays (the next cached build's layers) until `removeImages`.
 */
async function byHand(contextDir: string, round: string, cache: boolean): Promise<number> {
  await fs.writeFile(path.join(contextDir, 'server.js'), server(round));
  const tag = `gasper-bench-dockerfile:${round}`;
  const name = `gasper-bench-dockerfile-${round}`;
  const started = performance.now();
  try {
    await run('docker', ['build', '-q', ...(cache ? [] : ['--no-cache']), '-t', tag, contextDir]);
    await run('docker', ['run', '-d', '--name', name, '-p', '127.0.0.1::3000', tag]);
    const { stdout } = await run('docker', ['port', name, '3000/tcp']);
    const port = Number(stdout.trim().split('\n')[0]!.split(':').pop());
    await untilBody(port, `127.0.0.1:${port}`, (b) => b === `${round}\n`);
    return performance.now() - started;
  } finally {
    await run('docker', ['rm', '-f', name]).catch(() => undefined);
  }
}

/** Removes the images the by-hand builds tagged (only ours: the bench's own repository name). */
async function removeImages(): Promise<void> {
  const { stdout } = await run('docker', ['images', '-q', 'gasper-bench-dockerfile']);
  const ids = [...new Set(stdout.split('\n').filter(Boolean))];
  if (ids.length) await run('docker', ['rmi', '-f', ...ids]).catch(() => undefined);
}

async function main(): Promise<void> {
  const gasper = await startBenchPlatform();
  const repo = await createGitRepo({ Dockerfile: dockerfile, 'server.js': server('warm') });
  const contextDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-bench-context-'));
  await fs.writeFile(path.join(contextDir, 'Dockerfile'), dockerfile);
  const first = { gasper: [] as number[], hand: [] as number[] };
  const again = { gasper: [] as number[], hand: [] as number[] };
  /** POST → the app serves `round` through the proxy; a failed job ends the bench with its error. */
  const deployed = async (app: string, round: string, post: () => Promise<{ job?: { id: string } }>) => {
    const started = performance.now();
    const { job } = await post();
    await Promise.race([
      untilBody(gasper.proxyPort, gasper.hostOf(app), (b) => b === `${round}\n`, 120_000),
      gasper.failure(job!.id),
    ]);
    return performance.now() - started;
  };
  try {
    for (let i = 0; i <= rounds; i++) {
      const round = `r${i}-${crypto.randomBytes(3).toString('hex')}`;
      const app = `dockerfile-${round}`;
      await repo.commit({ 'server.js': server(round) });
      const gasperFirst = await deployed(app, round, () =>
        gasper.call('POST', '/apps', { name: app, repo: { url: repo.url } }),
      );
      const handFirst = await byHand(contextDir, round, false);
      const next = `${round}-again`;
      await repo.commit({ 'server.js': server(next) });
      const gasperAgain = await deployed(app, next, () => gasper.call('POST', `/apps/${app}/rebuild`, {}));
      const handAgain = await byHand(contextDir, next, true);
      await gasper.waitJob((await gasper.call('DELETE', `/apps/${app}`)).job!.id);
      await removeImages();
      // Round 0 warms both sides (page cache, the FROM image's layers) and is not counted.
      if (i > 0) {
        first.gasper.push(gasperFirst);
        first.hand.push(handFirst);
        again.gasper.push(gasperAgain);
        again.hand.push(handAgain);
      }
      process.stderr.write(
        `round ${i}/${rounds}${i === 0 ? ' (warm-up)' : ''}: first deploy gasper ${gasperFirst.toFixed(0)} ms, by hand ${handFirst.toFixed(0)} ms; redeploy gasper ${gasperAgain.toFixed(0)} ms, by hand ${handAgain.toFixed(0)} ms\n`,
      );
    }
  } finally {
    await gasper.close();
    await repo.remove();
    await fs.rm(contextDir, { recursive: true, force: true });
    await removeImages();
  }
  const row = (label: string, ms: number[]) =>
    console.log(`${label.padEnd(58)}${median(ms).toFixed(0).padStart(6)} ms`);
  console.log(`\nsmall Dockerfile app, ${rounds} rounds (medians)`);
  row('first deploy, by hand (docker build --no-cache + run)', first.hand);
  row('first deploy, gasper (POST /apps → 200 through the proxy)', first.gasper);
  row('redeploy, by hand (docker build with cache + run)', again.hand);
  row('redeploy, gasper (POST /apps/:name/rebuild → new 200)', again.gasper);
  const ratio = (side: { gasper: number[]; hand: number[] }) => (median(side.gasper) / median(side.hand)).toFixed(2);
  console.log(`ratio first deploy ${ratio(first)}×, redeploy ${ratio(again)}× (goal ≤ 1.2×)`);
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
}

await main();
