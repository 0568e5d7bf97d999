/**
 * Zero-downtime redeploys: GET requests at a fixed rate (BENCH_RATE, default 200/s, bounded)
 * through the proxy while the app is redeployed BENCH_N times (default 10). Prints the failed
 * requests (goal: 0) and the p99 latency while a redeploy switches and drains, beside the p99
 * of the same run's steady state (no redeploy in progress).
 * Needs Docker, redis-server and the runtime images (scripts/setup.sh).
 *   npm run bench:redeploy
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/core/config.ts';
import { createLogger } from '../src/core/log.ts';
import { startPlatform } from '../src/platform.ts';
import { createGitRepo, helloNodeApp } from '../test/support/git-fixture.ts';
import { loadThroughProxy } from '../test/support/load.ts';
import { benchPlatformEnv } from './support/platform-env.ts';
import { percentile } from './support/bench-platform.ts';

const rounds = Number(process.env.BENCH_N ?? 10);
const rate = Number(process.env.BENCH_RATE ?? 200);
const steadyMs = 5_000;

async function main(): Promise<void> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-bench-'));
  const repo = await createGitRepo(helloNodeApp('v0'));
  const token = crypto.randomBytes(16).toString('hex');
  const config = loadConfig(benchPlatformEnv(stateDir, token, { GASPER_HEALTH_TIMEOUT_MS: '60000' }));
  const platform = await startPlatform(config, undefined, createLogger(config.logLevel));
  const call = async (method: string, urlPath: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${platform.api!.port}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as {
      job?: { id: string; state?: string; error?: string; progress?: { step: string } };
    };
    if (res.status >= 400) throw new Error(`${method} ${urlPath}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  /** Waits for the job; returns when it started switching traffic and when it finished (performance.now()). */
  const waitJob = async (id: string) => {
    let switchAt: number | undefined;
    for (;;) {
      const { job } = await call('GET', `/jobs/${id}`);
      if (switchAt === undefined && /switching|draining/.test(job?.progress?.step ?? '')) switchAt = performance.now();
      if (job?.state === 'completed') return { switchAt: switchAt ?? performance.now(), doneAt: performance.now() };
      if (job?.state === 'failed') throw new Error(`job ${id} failed: ${job.error}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const name = `bench-${crypto.randomBytes(3).toString('hex')}`;
  const host = `${name}.${config.domain}`;
  const windows: { start: number; switchAt: number; end: number }[] = [];
  try {
    const created = await call('POST', '/apps', {
      name,
      repo: { url: repo.url },
      runtime: 'node',
      run: 'node server.js',
    });
    await waitJob(created.job!.id);
    const redeploys = (async () => {
      await new Promise((r) => setTimeout(r, steadyMs));
      for (let i = 1; i <= rounds; i++) {
        await repo.commit(helloNodeApp(`v${i}`), `v${i}`);
        const start = performance.now();
        const { job } = await call('POST', `/apps/${name}/rebuild`);
        const { switchAt, doneAt } = await waitJob(job!.id);
        windows.push({ start, switchAt, end: doneAt });
        process.stderr.write(
          `redeploy ${i}/${rounds}: ${(doneAt - start).toFixed(0)} ms (switch + drain ${(doneAt - switchAt).toFixed(0)} ms)\n`,
        );
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const result = await loadThroughProxy({
      proxyPort: platform.proxy!.port,
      host,
      ratePerSecond: rate,
      until: redeploys,
      maxMs: 15 * 60_000,
    });
    await redeploys;

    const at = (s: { at: number }) => result.origin + s.at;
    const inSwitch = (s: { at: number }) => windows.some((w) => at(s) >= w.switchAt - 200 && at(s) <= w.end);
    const inRedeploy = (s: { at: number }) => windows.some((w) => at(s) >= w.start && at(s) <= w.end);
    const ok = result.samples.filter((s) => s.ok);
    const steady = ok.filter((s) => !inRedeploy(s)).map((s) => s.ms);
    const switching = ok.filter(inSwitch).map((s) => s.ms);
    const redeploying = ok.filter(inRedeploy).map((s) => s.ms);
    const elapsedS = (performance.now() - result.origin) / 1000;
    const row = (label: string, values: number[]) =>
      `${label.padEnd(44)} n ${String(values.length).padStart(6)}   p50 ${percentile(values, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(values, 99).toFixed(1).padStart(6)} ms`;
    console.log(
      `\n${rounds} redeploys under ${rate} GET/s through the proxy (${result.sent} requests in ${elapsedS.toFixed(0)} s, versions seen: ${result.bodies.join(' ')})`,
    );
    console.log(
      `failed requests: ${result.failed}${result.failed ? ` ${JSON.stringify(result.failures)}` : ''}   (goal: 0)`,
    );
    console.log(row('steady state (no redeploy in progress)', steady));
    console.log(row('during redeploys (clone, build, start)', redeploying));
    console.log(row('during the switch and drain', switching));
    console.log(`p99 ratio switch / steady: ${(percentile(switching, 99) / percentile(steady, 99)).toFixed(2)}×`);
  } finally {
    await call('DELETE', `/apps/${name}`)
      .then(({ job }) => waitJob(job!.id))
      .catch((err) => console.error(`cleanup: ${err.message}`));
    await platform.close();
    await repo.remove();
    await fs.rm(stateDir, { recursive: true, force: true });
  }
}

await main();
