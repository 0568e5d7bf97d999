import crypto from 'node:crypto';
import { expect } from 'chai';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { keys } from '../../src/core/keys.ts';
import { createLogger, type Logger } from '../../src/core/log.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import type { AppInstancesEvent, GasperEvent } from '../../src/events/schemas.ts';
import { publishEvent, subscribeEvents, type SubscriptionHandle } from '../../src/events/stream.ts';
import { startTestRedis } from '../support/redis.ts';

const silent = createLogger('silent');

function appName(): string {
  return `app-${crypto.randomBytes(4).toString('hex')}`;
}

function instancesEvent(app: string, release: string, ports: number[] = [40001]): AppInstancesEvent {
  return {
    type: 'app.instances',
    app,
    release,
    instances: ports.map((port, i) => ({ node: 'n1', address: '127.0.0.1', port, container: `${app}-${i}` })),
  };
}

/** Polls `predicate` every 10 ms, at most `timeoutMs`; fails with `what` when it never holds. */
async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The app an event is about (undefined for events of other entities). */
function appOf(event: GasperEvent): string | undefined {
  return 'app' in event ? event.app : undefined;
}

/** Folds events into the state a consumer would hold: app → latest instances event. */
function fold(events: GasperEvent[]): Map<string, AppInstancesEvent> {
  const state = new Map<string, AppInstancesEvent>();
  for (const event of events) {
    if (event.type === 'app.removed') state.delete(event.app);
    else if (event.type === 'app.instances') state.set(event.app, event);
  }
  return state;
}

/** A pino logger that keeps its records in memory, to check what the subscriber reported. */
function capturingLogger(): { log: Logger; records: { level: number; msg: string }[] } {
  const records: { level: number; msg: string }[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write(line: string) {
        records.push(JSON.parse(line) as { level: number; msg: string });
      },
    },
  );
  return { log, records };
}

describe('event stream (real Redis)', function () {
  this.timeout(30_000);

  let server: EmbeddedRedisHandle;
  let pub: Redis;
  const subscriptions: SubscriptionHandle[] = [];

  /** Subscribes on a connection of its own, recording every delivered event. */
  function subscribe(log: Logger = silent): { events: GasperEvent[]; handle: SubscriptionHandle } {
    const events: GasperEvent[] = [];
    const handle = subscribeEvents(connectRedis(server.url), (e) => events.push(e), log);
    subscriptions.push(handle);
    return { events, handle };
  }

  before(async () => {
    server = await startTestRedis();
    pub = connectRedis(server.url);
  });

  beforeEach(async () => {
    await pub.flushall();
  });

  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((s) => s.close()));
  });

  after(async () => {
    pub?.disconnect();
    await server?.close();
  });

  it('publishEvent appends to the stream and keeps the latest event per entity', async () => {
    const app = appName();
    const id1 = await publishEvent(pub, instancesEvent(app, 'r1'));
    const id2 = await publishEvent(pub, instancesEvent(app, 'r2'));
    expect(id1).to.match(/^\d+-\d+$/);
    expect(id2).to.match(/^\d+-\d+$/);
    expect(id1).to.not.equal(id2);

    expect(await pub.xlen(keys.events)).to.equal(2);
    const latest = await pub.hget(keys.eventsLatest, `app:${app}`);
    expect(JSON.parse(latest!)).to.deep.equal(instancesEvent(app, 'r2'));
  });

  it('publishEvent rejects an event that does not match the schema, writing nothing', async () => {
    const bad = {
      type: 'app.instances',
      app: appName(),
      release: 'r1',
      instances: [{ node: 'n', address: 'a', port: 0, container: 'c' }],
    };
    let error: unknown;
    try {
      await publishEvent(pub, bad as GasperEvent);
    } catch (err) {
      error = err;
    }
    expect(error, 'publishEvent should reject').to.be.instanceOf(Error);
    expect(await pub.xlen(keys.events)).to.equal(0);
    expect(await pub.hlen(keys.eventsLatest)).to.equal(0);
  });

  it('delivers the snapshot (latest event per entity), then live events', async () => {
    const a = appName();
    const b = appName();
    await publishEvent(pub, instancesEvent(a, 'r1', [40001]));
    await publishEvent(pub, instancesEvent(a, 'r2', [40002]));
    await publishEvent(pub, instancesEvent(b, 'r1', [40003]));

    const { events, handle } = subscribe();
    await handle.ready;
    // The snapshot is exactly one event per live entity, each the latest one: a's r1 is not replayed.
    expect(events).to.have.length(2);
    const byApp = new Map(events.map((e) => [appOf(e), e]));
    expect(byApp.get(a)).to.deep.equal(instancesEvent(a, 'r2', [40002]));
    expect(byApp.get(b)).to.deep.equal(instancesEvent(b, 'r1', [40003]));

    // Live events follow, in order.
    const c = appName();
    await publishEvent(pub, instancesEvent(c, 'r1', [40004]));
    await publishEvent(pub, instancesEvent(a, 'r3', [40005]));
    await publishEvent(pub, { type: 'app.removed', app: b });
    await waitFor(() => events.length >= 5, 'three live events');
    expect(events.slice(2)).to.deep.equal([
      instancesEvent(c, 'r1', [40004]),
      instancesEvent(a, 'r3', [40005]),
      { type: 'app.removed', app: b },
    ]);
    // Nothing is delivered twice.
    await new Promise((r) => setTimeout(r, 100));
    expect(events).to.have.length(5);
  });

  it('an app.removed tombstone drops the entity from the snapshot', async () => {
    const gone = appName();
    const kept = appName();
    await publishEvent(pub, instancesEvent(gone, 'r1'));
    await publishEvent(pub, instancesEvent(kept, 'r1'));
    await publishEvent(pub, { type: 'app.removed', app: gone });

    expect(await pub.hexists(keys.eventsLatest, `app:${gone}`)).to.equal(0);

    const { events, handle } = subscribe();
    await handle.ready;
    expect(events.map(appOf)).to.deep.equal([kept]);
    expect(fold(events).has(gone)).to.equal(false);

    // A re-created app comes back.
    await publishEvent(pub, instancesEvent(gone, 'r2'));
    await waitFor(() => events.length === 2, 'the re-created app');
    expect(events[1]).to.deep.equal(instancesEvent(gone, 'r2'));
  });

  it('a subscriber started after events catches up to the same state as one that saw them live', async () => {
    const early = subscribe();
    await early.handle.ready;
    expect(early.events).to.have.length(0);

    const apps = [appName(), appName(), appName(), appName()];
    for (const [i, app] of apps.entries()) await publishEvent(pub, instancesEvent(app, 'r1', [41000 + i]));
    await publishEvent(pub, instancesEvent(apps[0]!, 'r2', [42000, 42001]));
    await publishEvent(pub, { type: 'app.removed', app: apps[1]! });
    await publishEvent(pub, { type: 'app.removed', app: appName() }); // never existed: harmless
    await waitFor(() => early.events.length === 7, 'the early subscriber to see all 7 events');

    const late = subscribe();
    await late.handle.ready;
    expect(late.events).to.have.length(3);
    expect(fold(late.events)).to.deep.equal(fold(early.events));

    // And both follow what comes next.
    const next = appName();
    await publishEvent(pub, instancesEvent(next, 'r1'));
    await waitFor(() => late.events.length === 4 && early.events.length === 8, 'both to see the next event');
    expect(late.events[3]).to.deep.equal(instancesEvent(next, 'r1'));
    expect(early.events[7]).to.deep.equal(instancesEvent(next, 'r1'));
  });

  it('catches up with many events published before it started (snapshot, not replay)', async () => {
    const app = appName();
    for (let i = 0; i < 200; i++) await publishEvent(pub, instancesEvent(app, `r${i}`, [40000 + i]));
    const { events, handle } = subscribe();
    await handle.ready;
    expect(events).to.deep.equal([instancesEvent(app, 'r199', [40199])]);
  });

  it('close() ends promptly while blocked in XREAD, and nothing is delivered afterwards', async () => {
    const { events, handle } = subscribe();
    await handle.ready;
    await new Promise((r) => setTimeout(r, 200)); // well inside the blocking read
    const started = Date.now();
    await handle.close();
    const elapsed = Date.now() - started;
    expect(elapsed, `close() took ${elapsed} ms`).to.be.below(1000);

    await publishEvent(pub, instancesEvent(appName(), 'r1'));
    await new Promise((r) => setTimeout(r, 200));
    expect(events).to.have.length(0);

    // Closing again is harmless and prompt.
    const again = Date.now();
    await handle.close();
    expect(Date.now() - again).to.be.below(200);
  });

  it('close() right after subscribing (before ready) ends promptly', async () => {
    const { handle } = subscribe();
    const started = Date.now();
    await handle.close();
    expect(Date.now() - started).to.be.below(1000);
  });

  it('ignores malformed stream entries without breaking the loop', async () => {
    const { log, records } = capturingLogger();
    const { events, handle } = subscribe(log);
    await handle.ready;

    const before = appName();
    await publishEvent(pub, instancesEvent(before, 'r1'));
    await waitFor(() => events.length === 1, 'the first valid event');

    // Raw entries no publisher would write: not JSON, JSON of the wrong shape, no `event` field.
    await pub.xadd(keys.events, '*', 'event', '{not json');
    await pub.xadd(keys.events, '*', 'event', JSON.stringify({ type: 'app.exploded', app: 'x' }));
    await pub.xadd(keys.events, '*', 'event', JSON.stringify({ type: 'app.instances', app: 'x' }));
    await pub.xadd(keys.events, '*', 'other', 'field');
    const after = appName();
    await publishEvent(pub, instancesEvent(after, 'r1'));

    await waitFor(() => events.length === 2, 'the valid event published after the malformed ones');
    expect(events[1]).to.deep.equal(instancesEvent(after, 'r1'));

    // The loop keeps going.
    const later = appName();
    await publishEvent(pub, instancesEvent(later, 'r1'));
    await waitFor(() => events.length === 3, 'a later valid event');
    expect(events.map(appOf)).to.deep.equal([before, after, later]);

    // Each bad entry is reported as malformed, not as a failed stream read.
    const warnings = records.filter((r) => r.level === 40).map((r) => r.msg);
    expect(warnings).to.deep.equal(Array(4).fill('ignoring malformed event'));
  });

  it('delivers the valid event that follows a non-JSON entry without a retry pause', async () => {
    const { events, handle } = subscribe();
    await handle.ready;
    await new Promise((r) => setTimeout(r, 50));
    // Both entries land in the same XREAD batch or consecutive ones; neither should cost a retry delay.
    const multi = pub.multi();
    multi.xadd(keys.events, '*', 'event', 'garbage');
    multi.xadd(keys.events, '*', 'event', JSON.stringify(instancesEvent('after-garbage', 'r1')));
    const started = Date.now();
    await multi.exec();
    await waitFor(() => events.length === 1, 'the valid event after garbage', 3000);
    const elapsed = Date.now() - started;
    expect(elapsed, `delivered after ${elapsed} ms`).to.be.below(300);
  });

  it('a handler that throws does not stop later deliveries', async () => {
    const seen: string[] = [];
    const handle = subscribeEvents(
      connectRedis(server.url),
      (e) => {
        seen.push(appOf(e) ?? '?');
        if (seen.length === 1) throw new Error('handler bug');
      },
      silent,
    );
    subscriptions.push(handle);
    await handle.ready;
    const a = appName();
    const b = appName();
    await publishEvent(pub, instancesEvent(a, 'r1'));
    await publishEvent(pub, instancesEvent(b, 'r1'));
    await waitFor(() => seen.length === 2, 'both events despite the throwing handler');
    expect(seen).to.deep.equal([a, b]);
  });
});
