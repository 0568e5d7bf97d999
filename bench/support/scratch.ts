import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stopChildren } from './children.ts';

/**
 * Runs a benchmark's body with a scratch directory and a private redis-server in it; afterwards,
 * whatever happened, ends `children`, redis and the directory. Gasper's modules are imported
 * here, not at the top, so that the forked roles that do not need them do not load them.
 */
export async function withScratch(
  name: string,
  children: ChildProcess[],
  body: (dir: string, redisUrl: string) => Promise<void>,
): Promise<void> {
  const { startEmbeddedRedis } = await import('../../src/core/redis.ts');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `gasper-bench-${name}-`));
  const redis = await startEmbeddedRedis(path.join(dir, 'redis'));
  try {
    await body(dir, redis.url);
  } finally {
    await stopChildren(children);
    await redis.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Publishes one instance per app (container `<app>-1` on node 'bench', release r1) to the event stream. */
export async function publishInstances(
  redisUrl: string,
  instances: { app: string; address: string; port: number }[],
): Promise<void> {
  const { connectRedis } = await import('../../src/core/redis.ts');
  const { publishEvent } = await import('../../src/events/stream.ts');
  const pub = connectRedis(redisUrl);
  for (const { app, address, port } of instances) {
    await publishEvent(pub, {
      type: 'app.instances',
      app,
      release: 'r1',
      instances: [{ node: 'bench', address, port, container: `${app}-1` }],
    });
  }
  pub.disconnect();
}
