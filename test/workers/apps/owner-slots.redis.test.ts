import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { keys } from '../../../src/core/keys.ts';
import { connectRedis } from '../../../src/core/redis.ts';
import { OwnerSlots } from '../../../src/workers/apps/owner-slots.ts';
import { startTestRedis } from '../../support/redis.ts';

/** Per-owner job leases in a real Redis (#11 item 6): the limit, renewal, and no leak when a worker dies. */
describe('OwnerSlots (real Redis)', function () {
  let handle: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  before(async () => {
    handle = await startTestRedis();
    redis = connectRedis(handle.url);
  });
  after(async () => {
    redis?.disconnect();
    await handle?.close();
  });

  it('gives an owner at most `limit` leases per node; other owners and nodes are apart; the same job again is not a second one', async () => {
    const slots = new OwnerSlots(redis, 'n1', 2, 5000);
    const a = await slots.acquire('alice', 'j1');
    const b = await slots.acquire('alice', 'j2');
    expect(a).to.not.equal(undefined);
    expect(b).to.not.equal(undefined);
    expect(await slots.acquire('alice', 'j3')).to.equal(undefined);
    const again = await slots.acquire('alice', 'j1');
    expect(again, 'a stalled job run again keeps its lease').to.not.equal(undefined);
    const bob = await slots.acquire('bob', 'j4');
    expect(bob).to.not.equal(undefined);
    const other = await new OwnerSlots(redis, 'n2', 2, 5000).acquire('alice', 'j5');
    expect(other).to.not.equal(undefined);
    await a!.release();
    const c = await slots.acquire('alice', 'j3');
    expect(c).to.not.equal(undefined);
    for (const lease of [b, again, bob, other, c]) await lease!.release();
    expect(await redis.zcard(keys.ownerSlots('n1', 'alice'))).to.equal(0);
  });

  it('a lease is renewed while its job runs, and expires when its worker dies', async () => {
    const slots = new OwnerSlots(redis, 'n3', 1, 600);
    const lease = await slots.acquire('carol', 'long');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await slots.acquire('carol', 'next'), 'renewed past its 600 ms').to.equal(undefined);
    await lease!.release();

    // A worker whose Redis connection is gone (killed, partitioned) renews nothing.
    const dying = connectRedis(handle.url);
    const lost = await new OwnerSlots(dying, 'n3', 1, 600).acquire('carol', 'orphan');
    expect(lost).to.not.equal(undefined);
    dying.disconnect();
    expect(await slots.acquire('carol', 'waiting')).to.equal(undefined);
    const started = Date.now();
    let next;
    while (!(next = await slots.acquire('carol', 'waiting'))) await new Promise((r) => setTimeout(r, 50));
    console.log(`      the dead worker's slot was free again after ${Date.now() - started} ms (lease 600 ms)`);
    expect(Date.now() - started).to.be.below(1500);
    await next.release();
  });
});
