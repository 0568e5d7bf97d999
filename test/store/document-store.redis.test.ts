import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../../src/core/keys.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { DocumentStore } from '../../src/store/document-store.ts';
import { startTestRedis } from '../support/redis.ts';

const thingSchema = z.object({ name: z.string(), count: z.number().int(), updatedAt: z.string().optional() });
type Thing = z.infer<typeof thingSchema>;

/** The generic store under apps, databases, users and nodes, against a real Redis. */
describe('DocumentStore (real Redis)', function () {
  let handle: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let prefix: string;
  let store: DocumentStore<Thing>;

  const storeFor = (options: { stampUpdatedAt?: boolean; maxAttempts?: number } = {}) =>
    new DocumentStore<Thing>(redis, {
      kind: 'thing',
      schema: thingSchema,
      key: (name) => `${prefix}:thing:${name}`,
      index: `${prefix}:things`,
      nameOf: (thing) => thing.name,
      ...options,
    });

  before(async () => {
    handle = await startTestRedis();
    redis = connectRedis(handle.url);
  });
  after(async () => {
    redis?.disconnect();
    await handle?.close();
  });
  beforeEach(() => {
    prefix = `t-${crypto.randomBytes(4).toString('hex')}`;
    store = storeFor({ stampUpdatedAt: true });
  });

  it('creates once per name, with the keys set alongside; the loser writes nothing', async () => {
    const seq = `${prefix}:seq`;
    expect(await store.create({ name: 'a', count: 1 }, { [seq]: 7 })).to.equal(true);
    expect(await store.create({ name: 'a', count: 2 }, { [seq]: 9 })).to.equal(false);
    expect(await store.get('a')).to.deep.equal({ name: 'a', count: 1 });
    expect(await redis.get(seq)).to.equal('7');
    expect(await redis.smembers(`${prefix}:things`)).to.deep.equal(['a']);
  });

  it('of many concurrent creates of one name exactly one wins', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.create({ name: 'x', count: i })));
    expect(results.filter(Boolean)).to.have.length(1);
  });

  it('refuses a document its schema refuses, writing nothing', async () => {
    const bad = { name: 'b', count: 1.5 } as Thing;
    let failed = false;
    await store.create(bad).catch(() => (failed = true));
    expect(failed).to.equal(true);
    expect(await redis.exists(`${prefix}:thing:b`, `${prefix}:things`)).to.equal(0);
  });

  it('lists by name, leaving out a name whose document is gone; get of an unknown name is undefined', async () => {
    await store.put({ name: 'c', count: 3 });
    await store.put({ name: 'a', count: 1 });
    await store.put({ name: 'b', count: 2 });
    await redis.del(`${prefix}:thing:b`);
    expect((await store.list()).map((t) => t.name)).to.deep.equal(['a', 'c']);
    expect(await store.get('nope')).to.equal(undefined);
    expect(await storeFor().list()).to.have.length(2);
  });

  it('updates by compare-and-set: 50 concurrent increments from two connections all count', async () => {
    await store.create({ name: 'n', count: 0 });
    const other = connectRedis(handle.url);
    try {
      const second = new DocumentStore<Thing>(other, {
        kind: 'thing',
        schema: thingSchema,
        key: (name) => `${prefix}:thing:${name}`,
        index: `${prefix}:things`,
        nameOf: (thing) => thing.name,
      });
      const inc = (doc: Thing) => ({ ...doc, count: doc.count + 1 });
      await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? store : second).update('n', inc)));
    } finally {
      other.disconnect();
    }
    expect((await store.get('n'))?.count).to.equal(50);
  });

  it('update with announce: the event is stored with the document in one call, the last write announces the latest', async () => {
    const name = `n${crypto.randomBytes(3).toString('hex')}`;
    await store.create({ name, count: 0 });
    const announce = (next: Thing) => ({
      type: 'app.edge' as const,
      app: name,
      https: 'allow' as const,
      hsts: next.count % 2 === 1,
    });
    await Promise.all(
      Array.from({ length: 20 }, () => store.update(name, (d) => ({ ...d, count: d.count + 1 }), { announce })),
    );
    const doc = await store.get(name);
    expect(doc?.count).to.equal(20);
    const latest = JSON.parse((await redis.hget(keys.eventsLatest, `edge:${name}`))!);
    expect(latest).to.deep.equal({ type: 'app.edge', app: name, https: 'allow', hsts: false });
    expect(await redis.xlen(keys.events)).to.be.at.least(20);
    // No event when announce says none; a tombstone is refused (it would need entries deleted).
    await store.update(name, (d) => ({ ...d, count: 21 }), { announce: () => undefined });
    expect(JSON.parse((await redis.hget(keys.eventsLatest, `edge:${name}`))!).hsts).to.equal(false);
    let refused: Error | undefined;
    await store
      .update(name, (d) => d, { announce: () => ({ type: 'app.removed', app: name }) })
      .catch((err: Error) => (refused = err));
    expect(refused?.message).to.match(/tombstone/);
    expect((await store.get(name))?.count).to.equal(21);
  });

  it('update: stamps updatedAt when asked, leaves the document when mutate returns undefined, undefined when absent', async () => {
    await store.create({ name: 'u', count: 1 });
    const next = await store.update('u', (doc) => ({ ...doc, count: 2 }));
    expect(next?.count).to.equal(2);
    expect(Date.parse(next!.updatedAt!)).to.be.closeTo(Date.now(), 5000);
    const raw = await redis.get(`${prefix}:thing:u`);
    const same = await store.update('u', (doc) => {
      doc.count = 99; // a copy: changing it and returning undefined writes nothing
      return undefined;
    });
    expect(same?.count).to.equal(2);
    expect(await redis.get(`${prefix}:thing:u`)).to.equal(raw);
    expect(await store.update('absent', (doc) => doc)).to.equal(undefined);
    const plain = storeFor();
    await plain.create({ name: 'p', count: 1 });
    expect((await plain.update('p', (doc) => ({ ...doc, count: 2 })))?.updatedAt).to.equal(undefined);
  });

  it('update gives up after maxAttempts when the document keeps changing underneath, naming it', async () => {
    const tight = storeFor({ maxAttempts: 3 });
    await tight.create({ name: 'busy', count: 0 });
    let error: Error | undefined;
    await tight
      .update('busy', (doc) => {
        // Another writer gets in between every read and write.
        void redis.set(`${prefix}:thing:busy`, JSON.stringify({ name: 'busy', count: doc.count + 1 }));
        return { ...doc, count: doc.count + 100 };
      })
      .catch((err: Error) => (error = err));
    expect(error?.message).to.equal('thing busy: too many concurrent updates');
  });

  it('removes the document, its name and the keys and commands given, in one step', async () => {
    await store.create({ name: 'r', count: 1 }, { [`${prefix}:r:extra`]: 'x' });
    await redis.sadd(`${prefix}:other`, 'r', 's');
    await store.remove('r', {
      keys: [`${prefix}:r:extra`],
      commands: (multi) => multi.srem(`${prefix}:other`, 'r'),
    });
    expect(await redis.exists(`${prefix}:thing:r`, `${prefix}:r:extra`)).to.equal(0);
    expect(await redis.smembers(`${prefix}:things`)).to.deep.equal([]);
    expect(await redis.smembers(`${prefix}:other`)).to.deep.equal(['s']);
    await store.remove('never-there');
  });
});
