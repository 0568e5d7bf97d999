import { UnrecoverableError, type Job } from 'bullmq';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createLogger } from '../../../src/core/log.ts';
import { connectRedis } from '../../../src/core/redis.ts';
import type { AppDocument } from '../../../src/store/app-document.ts';
import { AppStore } from '../../../src/store/apps.ts';
import type { WorkerContext } from '../../../src/workers/context.ts';
import { runApp } from '../../../src/workers/apps/run-app.ts';
import { startTestRedis } from '../../support/redis.ts';

/** A run job refused before it touches Docker, from the app's document in a real Redis. */
describe('run job on a node that is no longer the app’s primary (real Redis)', () => {
  let redisServer: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let apps: AppStore;

  before(async () => {
    redisServer = await startTestRedis();
    redis = connectRedis(redisServer.url);
    apps = new AppStore(redis);
  });
  after(async () => {
    redis?.disconnect();
    await redisServer?.close();
  });

  it('fails for good, naming the node the app runs on now', async () => {
    const now = new Date().toISOString();
    const doc: AppDocument = {
      name: 'moved',
      uid: 'u1',
      owner: 'admin',
      repo: { url: 'https://example.com/x.git' },
      runtime: 'node',
      port: 8080,
      sealedEnv: {},
      node: 'a',
      status: 'running',
      release: 'r000001',
      instances: [],
      createdAt: now,
      updatedAt: now,
    };
    expect(await apps.create(doc, 1)).to.equal(true);
    // No Docker in this context: the job must fail before it reaches it.
    const ctx = { redis, apps, log: createLogger('silent'), options: { nodeId: 'b' } } as unknown as WorkerContext;
    const job = { id: 'run-moved-u1-x', log: async () => 0 } as unknown as Job;
    const err = await runApp(ctx, job, { app: 'moved', uid: 'u1', command: 'ls' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UnrecoverableError);
    expect((err as Error).message).to.equal(
      'app moved now runs on node a, not this node (b): run the command again to run it there',
    );
  });
});
