import crypto from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import supertest from 'supertest';
import { ensureAdminToken } from '../../src/api/auth.ts';
import { startApi, type ApiHandle } from '../../src/api/index.ts';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { createSecretBox } from '../../src/core/secret-box.ts';
import type { AppDocument } from '../../src/store/app-document.ts';
import { AppMetricsStore, type ResourceSample } from '../../src/store/app-metrics.ts';
import { AppStore } from '../../src/store/apps.ts';
import { startTestRedis } from '../support/redis.ts';

interface SseEvent {
  event: string;
  data: any;
}

/**
 * `GET /apps/:name/metrics?follow=1` over real HTTP and a real Redis, with samples written the
 * way the node worker's sampler writes them (AppMetricsStore.record): the snapshot, each new
 * sample as an event, removed instances, keep-alives, the end when the app goes, and the
 * subscriber connection let go when the client leaves.
 */
describe('GET /apps/:name/metrics?follow=1 (Redis)', function () {
  this.timeout(30_000);
  let redisHandle: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let apps: AppStore;
  let metrics: AppMetricsStore;
  let api: ApiHandle | undefined;
  let url: string;
  const token = `test-${crypto.randomBytes(16).toString('hex')}`;

  before(async () => {
    redisHandle = await startTestRedis();
    redis = connectRedis(redisHandle.url);
    apps = new AppStore(redis);
    metrics = new AppMetricsStore(redis);
    await ensureAdminToken(redis, token);
  });
  beforeEach(async () => {
    api = await startApi(
      {
        host: '127.0.0.1',
        port: 0,
        redisUrl: redisHandle.url,
        jobAttempts: 1,
        domain: 'apps.test',
        proxyPort: 8080,
        allowLocalRepos: true,
        nodeTimeoutMs: 30_000,
        logFollowBlockMs: 200,
        logFollowsPerUser: 2,
        authFailuresPerMinute: 1000,
        changesPerMinute: 1000,
      },
      { log: createLogger('silent'), secrets: createSecretBox(crypto.randomBytes(32).toString('hex')) },
    );
    url = `http://127.0.0.1:${api.port}`;
  });
  afterEach(async () => api?.close());
  after(async () => {
    redis?.disconnect();
    await redisHandle?.close();
  });

  async function createApp(): Promise<string> {
    const name = `met-${crypto.randomBytes(3).toString('hex')}`;
    const now = new Date().toISOString();
    const doc: AppDocument = {
      name,
      uid: 'u1',
      owner: 'admin',
      repo: { url: 'file:///x' },
      runtime: 'node',
      port: 8080,
      sealedEnv: {},
      node: 'n1',
      status: 'running',
      instances: [],
      createdAt: now,
      updatedAt: now,
    };
    await apps.create(doc, 1);
    return name;
  }

  let clock = 0;
  const sample = (percent: number): ResourceSample => ({
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString(),
    cpu: { cores: percent / 100, limitCores: 1, percent },
    memory: { usageBytes: 1_000_000 * percent, limitBytes: 256 * 1024 * 1024, percent: percent / 2 },
  });
  const record = (app: string, instance: string, percent: number) =>
    metrics.record(app, { instance, node: 'n1', release: 'r000001' }, sample(percent));
  const subscribers = async () =>
    ((await redis.client('LIST')) as string).split('\n').filter((l) => l.includes('name=gasper-metrics-follow')).length;

  /** A real HTTP client reading the event stream; `next(n)` waits for n more events. */
  function follow(app: string) {
    const events: SseEvent[] = [];
    let raw = '';
    let waiter: (() => void) | undefined;
    const state = { raw: () => raw, events, status: 0, req: undefined as unknown as http.ClientRequest };
    const ended = new Promise<void>((resolve, reject) => {
      state.req = http.get(
        `${url}/apps/${app}/metrics?follow=1`,
        { headers: { authorization: `Bearer ${token}` } },
        (res) => {
          state.status = res.statusCode ?? 0;
          res.setEncoding('utf8');
          let buffer = '';
          res.on('data', (chunk: string) => {
            raw += chunk;
            buffer += chunk;
            let cut: number;
            while ((cut = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (data !== undefined) events.push({ event, data: JSON.parse(data) });
            }
            waiter?.();
          });
          res.on('end', resolve);
          res.on('error', () => resolve());
        },
      );
      state.req.on('error', reject);
    });
    async function next(count: number, timeoutMs = 5000): Promise<SseEvent[]> {
      const want = events.length + count;
      const deadline = Date.now() + timeoutMs;
      while (events.length < want) {
        if (Date.now() > deadline) throw new Error(`waited for ${count} events; have ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, 50);
        });
      }
      return events.slice(want - count, want);
    }
    const upTo = async (n: number) => {
      if (events.length < n) await next(n - events.length);
      return events;
    };
    return Object.assign(state, { ended, next, upTo });
  }

  it('sends the snapshot, then each sample as the sampler stores it, then removed instances', async function () {
    const app = await createApp();
    const instance = `gasper-${app}-r000001-0`;
    await record(app, instance, 10);
    const f = follow(app);
    const [first] = await f.upTo(1);
    expect(f.status).to.equal(200);
    expect(first!.event).to.equal('instances');
    expect(first!.data.instances).to.have.length(1);
    expect(first!.data.instances[0].samples.map((s: ResourceSample) => s.cpu!.percent)).to.deep.equal([10]);

    await record(app, instance, 20);
    await record(app, `gasper-${app}-r000001-1`, 30);
    const live = (await f.upTo(3)).slice(1, 3);
    expect(live.map((e) => e.event)).to.deep.equal(['message', 'message']);
    expect(live.map((e) => [e.data.instance, e.data.sample.cpu.percent])).to.deep.equal([
      [instance, 20],
      [`gasper-${app}-r000001-1`, 30],
    ]);
    expect(live[0]!.data).to.include({ node: 'n1', release: 'r000001' });

    await metrics.prune(app, 'n1', new Set([instance]));
    const removed = (await f.upTo(4))[3];
    expect(removed).to.deep.equal({ event: 'removed', data: { removed: [`gasper-${app}-r000001-1`] } });
    f.req.destroy();
  });

  it('keeps the stream alive when quiet, ends it when the app is deleted, and lets go of Redis', async function () {
    const app = await createApp();
    const f = follow(app);
    await f.upTo(1);
    expect(await subscribers()).to.equal(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(f.raw()).to.include(': keep-alive');
    await apps.remove(app);
    const end = (await f.upTo(2))[1];
    expect(end).to.deep.equal({ event: 'end', data: { reason: 'app deleted' } });
    await f.ended;
    for (let i = 0; i < 50 && (await subscribers()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await subscribers()).to.equal(0);
  });

  it('a client that leaves gives its place back; follows are counted with log follows; bad queries get 400', async function () {
    const app = await createApp();
    const a = follow(app);
    const b = follow(app);
    await a.upTo(1);
    await b.upTo(1);
    // Both follows of one app share the one subscriber connection.
    expect(await subscribers()).to.equal(1);
    const refused = await supertest(url)
      .get(`/apps/${app}/logs?follow=1`)
      .set('authorization', `Bearer ${token}`)
      .expect(429);
    expect(refused.body.message).to.include('GASPER_LOG_FOLLOWS_PER_USER');
    a.req.destroy();
    b.req.destroy();
    for (let i = 0; i < 50 && (await subscribers()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await subscribers()).to.equal(0);
    const c = follow(app);
    await c.upTo(1);
    c.req.destroy();

    const bad = await supertest(url).get(`/apps/${app}/metrics?follow=maybe`).set('authorization', `Bearer ${token}`);
    expect(bad.status).to.equal(400);
    expect(bad.body.fields).to.have.property('follow');
    await supertest(url).get(`/apps/nope-x/metrics?follow=1`).set('authorization', `Bearer ${token}`).expect(404);
  });
});
