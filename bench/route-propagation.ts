/**
 * Route propagation: from an `app.instances` event appended to the stream to every proxy process
 * having applied it to its route table. Goal: p95 ≤ 50 ms.
 *
 *   npm run bench:route-propagation
 *   BENCH_PROCESSES=4 BENCH_CHANGES=200 npm run bench:route-propagation
 *
 * Starts a private redis-server and the proxy processes (proxy/processes.ts, `reportEvents`: each
 * process reports over IPC when it applied an event, with its clock), then publishes
 * BENCH_CHANGES route changes one after another (a new release of one app, its instance's port
 * changing each time) and takes, per change, the delay until the last process applied it.
 * test/proxy/processes.redis.test.ts checks that the processes then serve the route.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../src/core/log.ts';
import { connectRedis, startEmbeddedRedis } from '../src/core/redis.ts';
import type { GasperEvent } from '../src/events/schemas.ts';
import { publishEvent } from '../src/events/stream.ts';
import { preciseNow } from '../src/proxy/process-messages.ts';
import { startProxyProcesses } from '../src/proxy/processes.ts';

const processes = Number(process.env.BENCH_PROCESSES ?? os.availableParallelism());
const changes = Number(process.env.BENCH_CHANGES ?? 100);
/** Pause between changes: route changes come one at a time (deploys), not as a flood. */
const gapMs = 10;
const APP = 'propagation';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-bench-propagation-'));
const redis = await startEmbeddedRedis(path.join(dir, 'redis'));
const pub = connectRedis(redis.url);
const started = performance.now();
const proxy = await startProxyProcesses(
  {
    proxy: { host: '127.0.0.1', port: 0, domain: 'bench.test', redisUrl: redis.url },
    processes,
    reportEvents: true,
  },
  { log: createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn') },
);
try {
  console.log(
    `route propagation: ${proxy.processes} proxy process(es) started in ${((performance.now() - started) / 1000).toFixed(1)} s, ` +
      `${changes} route changes, ${os.availableParallelism()} CPU(s), load average ${os.loadavg()[0]!.toFixed(1)}`,
  );
  const delays: number[] = [];
  const deadline = Date.now() + 60_000;
  for (let i = 0; i < changes && Date.now() < deadline; i++) {
    const release = `r${i}`;
    const applied = new Set<number>();
    let publishedAt = 0;
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`change ${i} reached ${applied.size} process(es) in 5 s`)),
        5_000,
      );
      const onApplied = (index: number, event: GasperEvent, at: number) => {
        if (event.type !== 'app.instances' || event.release !== release) return;
        applied.add(index);
        if (applied.size < proxy.processes) return;
        clearTimeout(timer);
        proxy.events.off('applied', onApplied);
        resolve(at - publishedAt);
      };
      proxy.events.on('applied', onApplied);
    });
    publishedAt = preciseNow();
    await publishEvent(pub, {
      type: 'app.instances',
      app: APP,
      release,
      instances: [{ node: 'bench', address: '127.0.0.1', port: 20_000 + i, container: `${APP}-${i}` }],
    });
    // The last process to apply it sets the figure; reports are over IPC, ~0.1 ms late at most.
    delays.push(Math.max(0, await done));
    await new Promise((r) => setTimeout(r, gapMs));
  }
  const sorted = [...delays].sort((a, b) => a - b);
  const p95 = percentile(sorted, 95);
  console.log(
    `event → every process applied it: p50 ${percentile(sorted, 50).toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, ` +
      `max ${sorted.at(-1)!.toFixed(1)} ms over ${delays.length} changes (goal: p95 ≤ 50 ms: ${p95 <= 50 ? 'met' : 'missed'})`,
  );
} finally {
  await proxy.close();
  pub.disconnect();
  await redis.close();
  await fs.rm(dir, { recursive: true, force: true });
}
