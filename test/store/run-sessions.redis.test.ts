import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { keys } from '../../src/core/keys.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { RunSessionStore } from '../../src/store/run-sessions.ts';
import { startTestRedis } from '../support/redis.ts';

/** The leases of interactive sessions' one-off containers on a real Redis (ssh/run-session.ts). */
describe('run session leases (real Redis)', function () {
  this.timeout(20_000);
  let server: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;

  before(async () => {
    server = await startTestRedis();
    redis = connectRedis(server.url);
  });
  after(async () => {
    redis?.disconnect();
    await server?.close();
  });

  it('holds a lease until it runs out or is released; renewing extends it; expired ones are dropped', async () => {
    const store = new RunSessionStore(redis);
    await store.renew('c-a', 60_000, 1000);
    await store.renew('c-b', 60_000, 1000);
    expect([...(await store.live(30_000))].sort()).to.deep.equal(['c-a', 'c-b']);
    await store.renew('c-a', 60_000, 50_000);
    expect([...(await store.live(61_000))]).to.deep.equal(['c-a']);
    expect(await redis.zscore(keys.runSessions, 'c-b'), 'the expired lease is dropped').to.equal(null);
    await store.release('c-a');
    await store.release('c-a');
    expect([...(await store.live(61_000))]).to.deep.equal([]);
  });
});
