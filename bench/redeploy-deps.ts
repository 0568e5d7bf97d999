/**
 * Redeploy with unchanged dependencies (issue 14): an Express app with a lockfile from the npm
 * registry. Each round creates a new app (its first deploy installs), then redeploys a commit
 * that changes only the code (POST /apps/:name/rebuild → the new release answers through the
 * proxy), and deploys a no-dependency app as the floor, all in the same run. Prints the medians
 * and the ratios against the goals: redeploy ≤ 0.3× the first deploy and ≤ 2× the no-dependency
 * deploy. Needs Docker, redis-server, the runtime images (scripts/setup.sh) and the npm registry.
 *   npm run bench:redeploy-deps            (BENCH_N=5 for more rounds; default 3)
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createGitRepo, helloNodeApp } from '../test/support/git-fixture.ts';
import { median, startBenchPlatform, untilBody } from './support/bench-platform.ts';

const rounds = Number(process.env.BENCH_N ?? 3);
const express = '4.21.2';

const server = (version: string) => `const express = require('express');
const app = express();
app.get('/', (req, res) => res.send('${version}\\n'));
app.listen(process.env.PORT);
`;

/** package.json and the lockfile npm resolves for it (the registry answers here; nothing is installed). */
async function expressApp(): Promise<Record<string, string>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-bench-lock-'));
  const pkg = JSON.stringify({
    name: 'bench-express',
    version: '1.0.0',
    scripts: { start: 'node server.js' },
    dependencies: { express },
  });
  try {
    await fs.writeFile(path.join(dir, 'package.json'), pkg);
    await promisify(execFile)(
      'npm',
      ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'],
      {
        cwd: dir,
      },
    );
    return { 'package.json': pkg, 'package-lock.json': await fs.readFile(path.join(dir, 'package-lock.json'), 'utf8') };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const gasper = await startBenchPlatform();
  const deps = await createGitRepo({ ...(await expressApp()), 'server.js': server('v0') });
  const plain = await createGitRepo(helloNodeApp('floor'));
  const first: number[] = [];
  const redeploy: number[] = [];
  const floor: number[] = [];
  /** POST → the app answers as `accept` wants through the proxy; a failed job ends the bench with its error. */
  const timed = async (
    action: () => Promise<{ job?: { id: string } }>,
    app: string,
    accept: (body: string) => boolean,
  ) => {
    const started = performance.now();
    const { job } = await action();
    await Promise.race([untilBody(gasper.proxyPort, gasper.hostOf(app), accept, 300_000), gasper.failure(job!.id)]);
    return performance.now() - started;
  };
  const remove = async (app: string) => gasper.waitJob((await gasper.call('DELETE', `/apps/${app}`)).job!.id);
  try {
    for (let i = 1; i <= rounds; i++) {
      const app = `deps-${i}-${crypto.randomBytes(2).toString('hex')}`;
      await deps.commit({ 'server.js': server(`v${i}-first`) });
      first.push(
        await timed(
          () => gasper.call('POST', '/apps', { name: app, repo: { url: deps.url }, runtime: 'node' }),
          app,
          (b) => b === `v${i}-first\n`,
        ),
      );
      await deps.commit({ 'server.js': server(`v${i}-second`) });
      redeploy.push(
        await timed(
          () => gasper.call('POST', `/apps/${app}/rebuild`, {}),
          app,
          (b) => b === `v${i}-second\n`,
        ),
      );
      await remove(app);
      const bare = `plain-${i}-${crypto.randomBytes(2).toString('hex')}`;
      floor.push(
        await timed(
          () => gasper.call('POST', '/apps', { name: bare, repo: { url: plain.url }, runtime: 'node' }),
          bare,
          () => true,
        ),
      );
      await remove(bare);
      process.stderr.write(
        `round ${i}/${rounds}: first ${first.at(-1)!.toFixed(0)} ms, redeploy ${redeploy.at(-1)!.toFixed(0)} ms, no-dependency deploy ${floor.at(-1)!.toFixed(0)} ms\n`,
      );
    }
  } finally {
    await gasper.close();
    await deps.remove();
    await plain.remove();
  }
  const ms = (v: number[]) => `${median(v).toFixed(0).padStart(6)} ms`;
  console.log(`\nExpress ${express} app with a lockfile, ${rounds} rounds (medians)`);
  console.log(`first deploy (npm ci)                      ${ms(first)}`);
  console.log(`redeploy, same lockfile (reuse)            ${ms(redeploy)}`);
  console.log(`no-dependency deploy (bench:deploy's app)  ${ms(floor)}`);
  console.log(
    `redeploy / first ${(median(redeploy) / median(first)).toFixed(2)}× (goal ≤ 0.3×)   redeploy / no-dependency ${(median(redeploy) / median(floor)).toFixed(2)}× (goal ≤ 2×)`,
  );
}

await main();
