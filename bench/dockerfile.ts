/**
 * Dockerfile deploys (issue 14): a small Dockerfile app, POST /apps → first 200 through the
 * proxy, against the same context built and run by hand in the same run (`docker build` +
 * `docker run` → first 200 on its published port). Each round changes server.js on both sides,
 * so both build the COPY layer anew and reuse the FROM image. Rounds interleaved; prints the
 * medians and the ratio (goal ≤ 1.2×). Needs Docker, redis-server and the runtime images.
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

/** `docker build` + `docker run` of the context by hand → first 200; removes what it made. */
async function byHand(contextDir: string, round: string): Promise<number> {
  await fs.writeFile(path.join(contextDir, 'server.js'), server(round));
  const tag = `gasper-bench-dockerfile:${round}`;
  const name = `gasper-bench-dockerfile-${round}`;
  const started = performance.now();
  try {
    await run('docker', ['build', '-q', '-t', tag, contextDir]);
    await run('docker', ['run', '-d', '--name', name, '-p', '127.0.0.1::3000', tag]);
    const { stdout } = await run('docker', ['port', name, '3000/tcp']);
    const port = Number(stdout.trim().split('\n')[0]!.split(':').pop());
    await untilBody(port, `127.0.0.1:${port}`, (b) => b === `${round}\n`);
    return performance.now() - started;
  } finally {
    await run('docker', ['rm', '-f', name]).catch(() => undefined);
    await run('docker', ['rmi', '-f', tag]).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const gasper = await startBenchPlatform();
  const repo = await createGitRepo({ Dockerfile: dockerfile, 'server.js': server('warm') });
  const contextDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-bench-context-'));
  await fs.writeFile(path.join(contextDir, 'Dockerfile'), dockerfile);
  const platform: number[] = [];
  const hand: number[] = [];
  try {
    for (let i = 0; i <= rounds; i++) {
      const round = `r${i}-${crypto.randomBytes(3).toString('hex')}`;
      await repo.commit({ 'server.js': server(round) });
      const app = `dockerfile-${round}`;
      const started = performance.now();
      const { job } = await gasper.call('POST', '/apps', { name: app, repo: { url: repo.url } });
      await Promise.race([
        untilBody(gasper.proxyPort, gasper.hostOf(app), (b) => b === `${round}\n`, 120_000),
        gasper.failure(job!.id),
      ]);
      const elapsed = performance.now() - started;
      await gasper.waitJob((await gasper.call('DELETE', `/apps/${app}`)).job!.id);
      const manual = await byHand(contextDir, round);
      // Round 0 warms both sides (page cache, the FROM image's layers) and is not counted.
      if (i > 0) {
        platform.push(elapsed);
        hand.push(manual);
      }
      process.stderr.write(
        `round ${i}/${rounds}${i === 0 ? ' (warm-up)' : ''}: gasper ${elapsed.toFixed(0)} ms, by hand ${manual.toFixed(0)} ms\n`,
      );
    }
  } finally {
    await gasper.close();
    await repo.remove();
    await fs.rm(contextDir, { recursive: true, force: true });
  }
  console.log(`\nsmall Dockerfile app, ${rounds} rounds (medians)`);
  console.log(`by hand (docker build + docker run → first 200)    ${median(hand).toFixed(0).padStart(6)} ms`);
  console.log(`gasper (POST /apps → first 200 through the proxy)  ${median(platform).toFixed(0).padStart(6)} ms`);
  console.log(`ratio ${(median(platform) / median(hand)).toFixed(2)}× (goal ≤ 1.2×)`);
}

await main();
