import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { instanceBack, instanceLost, operationFailed, stopped, type AppTransition } from '../../src/core/app-state.ts';
import { keys } from '../../src/core/keys.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { eventSchema, type Instance } from '../../src/events/schemas.ts';
import type { AppDocument } from '../../src/store/app-document.ts';
import { applyTransition } from '../../src/store/app-state-writes.ts';
import { AppStore } from '../../src/store/apps.ts';
import { startTestRedis } from '../support/redis.ts';

/** The one write path of an app's observed state: compare-and-set and the event in one Redis call. */
describe('app state writes (real Redis)', function () {
  this.timeout(20_000);
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

  const instance = (node: string, slot: number): Instance => ({
    node,
    address: '127.0.0.1',
    port: 30000 + slot,
    container: `gasper-x-r000001-${slot}`,
  });

  async function createApp(extra: Partial<AppDocument> = {}): Promise<string> {
    const name = `app-${crypto.randomBytes(3).toString('hex')}`;
    const now = new Date().toISOString();
    const doc: AppDocument = {
      name,
      uid: 'u1',
      owner: 'admin',
      repo: { url: 'https://example.com/x.git' },
      runtime: 'node',
      port: 8080,
      sealedEnv: {},
      node: 'a',
      placement: ['a', 'b'],
      status: 'running',
      release: 'r000001',
      instances: [instance('a', 0), instance('b', 1)],
      createdAt: now,
      updatedAt: now,
      ...extra,
    };
    expect(await apps.create(doc, 1)).to.equal(true);
    return name;
  }
  const latestEvent = async (app: string) => {
    const raw = await redis.hget(keys.eventsLatest, `app:${app}`);
    return raw ? eventSchema.parse(JSON.parse(raw)) : undefined;
  };
  const streamEvents = async (app: string) =>
    (await redis.xrange(keys.events, '-', '+'))
      .map(([, fields]) => eventSchema.parse(JSON.parse(fields[1]!)))
      .filter((e) => 'app' in e && e.app === app);

  it('stores the document and appends its event together', async () => {
    const name = await createApp();
    const result = await applyTransition(redis, name, stopped('a'));
    expect(result.changed).to.equal(true);
    expect(await apps.get(name)).to.deep.include({ status: 'stopped', instances: [instance('b', 1)] });
    const event = { type: 'app.instances', app: name, release: 'r000001', instances: [instance('b', 1)] };
    expect(result.event).to.deep.equal(event);
    expect(await latestEvent(name)).to.deep.equal(event);
    expect(await streamEvents(name)).to.deep.equal([event]);
  });

  it('appends no event for a transition that does not announce, or one that does not apply', async () => {
    const name = await createApp();
    expect((await applyTransition(redis, name, operationFailed('restart', 'boom'))).changed).to.equal(true);
    expect(await apps.get(name)).to.deep.include({ lastError: 'restart failed: boom' });
    await applyTransition(redis, name, stopped('a'));
    // Stopped: an instance coming back does not apply.
    const back = await applyTransition(redis, name, instanceBack('r000001', instance('a', 0)));
    expect(back.changed).to.equal(false);
    expect(back.doc).to.deep.include({ status: 'stopped', instances: [instance('b', 1)] });
    expect(await streamEvents(name)).to.have.length(1);
  });

  it('announces nothing for an app with no release yet', async () => {
    const name = await createApp({ release: undefined, instances: [] });
    const result = await applyTransition(redis, name, stopped('a'));
    expect(result).to.deep.include({ changed: true });
    expect(result.event).to.equal(undefined);
    expect(await latestEvent(name)).to.equal(undefined);
  });

  it('answers undefined for an app that does not exist', async () => {
    expect(await applyTransition(redis, 'nope', stopped('a'))).to.deep.equal({ doc: undefined, changed: false });
  });

  it('two nodes changing one app at once both land: the transition is applied again to the fresh document', async () => {
    const name = await createApp();
    // Each writer is held after its read until the other has read too: both start from the same document.
    let reads = 0;
    let bothRead!: () => void;
    const gate = new Promise<void>((r) => (bothRead = r));
    const racing = (t: AppTransition): AppTransition => ({
      ...t,
      apply: (d) => {
        if (++reads === 2) bothRead();
        return t.apply(d);
      },
    });
    const slowRedis = (client: Redis) =>
      new Proxy(client, {
        get(target, prop, receiver) {
          if (prop === 'eval')
            return async (...args: Parameters<Redis['eval']>) => {
              await gate;
              return target.eval(...args);
            };
          return Reflect.get(target, prop, receiver);
        },
      });
    const other = connectRedis(redisServer.url);
    try {
      const [lostA, lostB] = await Promise.all([
        applyTransition(
          slowRedis(redis),
          name,
          racing(instanceLost('r000001', instance('a', 0).container, 'a died', false)),
        ),
        applyTransition(
          slowRedis(other),
          name,
          racing(instanceLost('r000001', instance('b', 1).container, 'b died', false)),
        ),
      ]);
      expect(lostA.changed && lostB.changed).to.equal(true);
      // Three reads: one writer lost the compare-and-set and read again.
      expect(reads).to.equal(3);
    } finally {
      other.disconnect();
    }
    const doc = (await apps.get(name))!;
    expect(doc.instances).to.deep.equal([]);
    const events = await streamEvents(name);
    expect(events.map((e) => e.type === 'app.instances' && e.instances.length)).to.deep.equal([1, 0]);
    expect(await latestEvent(name)).to.deep.include({ instances: [] });
  });
});
