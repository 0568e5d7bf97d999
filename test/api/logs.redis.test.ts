import crypto from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import supertest from 'supertest';
import { startApi, type ApiHandle } from '../../src/api/index.ts';
import { ensureAdminToken } from '../../src/api/auth.ts';
import { keys } from '../../src/core/keys.ts';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { createSecretBox } from '../../src/core/secret-box.ts';
import type { AppDocument } from '../../src/store/app-document.ts';
import { AppLogStore } from '../../src/store/app-logs.ts';
import { AppStore } from '../../src/store/apps.ts';
import { startTestRedis } from '../support/redis.ts';

/**
 * The log routes over real HTTP and a real Redis, with lines written the way node workers
 * write them: tail order and limits, and every way a follow ends (client gone, app deleted,
 * API closing) without leaving its Redis connection behind.
 */
describe('GET /apps/:name/logs (Redis)', function () {
  this.timeout(30_000);
  let redisHandle: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let apps: AppStore;
  let logs: AppLogStore;
  let api: ApiHandle | undefined;
  let url: string;
  const token = `test-${crypto.randomBytes(16).toString('hex')}`;
  const secrets = createSecretBox(crypto.randomBytes(32).toString('hex'));

  before(async () => {
    redisHandle = await startTestRedis();
    redis = connectRedis(redisHandle.url);
    apps = new AppStore(redis);
    logs = new AppLogStore(redis);
    await ensureAdminToken(redis, token);
  });
  async function restartApi(extra: Partial<Parameters<typeof startApi>[0]> = {}) {
    await api?.close();
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
        authFailuresPerMinute: 1000,
        changesPerMinute: 1000,
        ...extra,
      },
      { log: createLogger('silent'), secrets },
    );
    url = `http://127.0.0.1:${api.port}`;
  }
  beforeEach(async () => {
    api = undefined;
    await restartApi();
  });
  afterEach(async () => api?.close());
  after(async () => {
    redis?.disconnect();
    await redisHandle?.close();
  });

  async function createApp(): Promise<string> {
    const name = `logs-${crypto.randomBytes(3).toString('hex')}`;
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
  async function print(app: string, ...texts: string[]): Promise<boolean> {
    const lines = texts.map((text) => ({
      stream: 'stdout' as const,
      timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString(),
      text,
    }));
    return logs.append(
      app,
      { containerId: 'c1', instance: `gasper-${app}-r000001-0`, release: 'r000001', cursor: '1' },
      lines,
    );
  }

  const get = (path: string) => supertest(url).get(path).set('authorization', `Bearer ${token}`);
  const followers = async () =>
    ((await redis.client('LIST')) as string).split('\n').filter((l) => l.includes('name=gasper-log-follow')).length;

  /** Opens a follow and collects its raw body; `ended` resolves when the server ends it. */
  function follow(app: string, query = 'follow=1&tail=0', as = token, status = 200) {
    const state = {
      body: '',
      status: 0,
      ended: undefined as unknown as Promise<void>,
      req: undefined as unknown as http.ClientRequest,
    };
    state.ended = new Promise<void>((resolve, reject) => {
      state.req = http.get(
        `${url}/apps/${app}/logs?${query}`,
        { headers: { authorization: `Bearer ${as}` } },
        (res) => {
          state.status = res.statusCode ?? 0;
          expect(res.statusCode).to.equal(status);
          res.setEncoding('utf8');
          res.on('data', (c: string) => (state.body += c));
          res.on('end', resolve);
          res.on('error', () => resolve());
        },
      );
      state.req.on('error', reject);
    });
    return state;
  }

  async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('returns the last N lines, oldest first; tail=0 returns none; the default is 100', async () => {
    const app = await createApp();
    await print(app, ...Array.from({ length: 120 }, (_, i) => `line ${i + 1}`));
    const three = (await get(`/apps/${app}/logs?tail=3`).expect(200)).body.lines;
    expect(three.map((l: { text: string }) => l.text)).to.deep.equal(['line 118', 'line 119', 'line 120']);
    expect(three[0]).to.have.keys('id', 'instance', 'release', 'process', 'stream', 'timestamp', 'text');
    expect((await get(`/apps/${app}/logs?tail=0`).expect(200)).body.lines).to.deep.equal([]);
    expect((await get(`/apps/${app}/logs`).expect(200)).body.lines).to.have.length(100);
    const bad = await get(`/apps/${app}/logs?follow=maybe`).expect(400);
    expect(bad.body.fields).to.have.property('follow');
  });

  it("leaves out the lines of Gasper's health probes unless probes=1, in the tail and in a follow", async () => {
    const app = await createApp();
    const probe = (i: number) => `127.0.0.1 - - "GET /healthz HTTP/1.1" 200 2 "-" "gasper-health/1" #${i}`;
    // One request of a visitor among 600 probe lines: more than one page of the stream to read back.
    await print(app, 'GET / from a visitor', ...Array.from({ length: 600 }, (_, i) => probe(i)), 'last words');
    const texts = async (query: string) =>
      (await get(`/apps/${app}/logs?${query}`).expect(200)).body.lines.map((l: { text: string }) => l.text);
    expect(await texts('tail=2')).to.deep.equal(['GET / from a visitor', 'last words']);
    expect(await texts('tail=2&probes=1')).to.deep.equal([probe(599), 'last words']);
    expect(await texts('tail=1000&probes=1')).to.have.length(602);

    const stream = follow(app, 'follow=1&tail=1');
    await until('the tail', () => stream.body.includes('last words'));
    await print(app, probe(600), 'after the probe');
    await until('the line after the probe', () => stream.body.includes('after the probe'));
    expect(stream.body).to.not.include('gasper-health');
    stream.req.destroy();
  });

  it('writes nothing for an app that does not exist (a line collected during a deletion)', async () => {
    expect(await print('ghost-app', 'late line')).to.equal(false);
    expect(await redis.exists(keys.appLogs('ghost-app'), keys.appLogCursors('ghost-app'))).to.equal(0);
  });

  it('sends the tail, then new lines, with keep-alives; ends with `event: end` when the app is deleted', async () => {
    const app = await createApp();
    await print(app, 'old 1', 'old 2');
    const stream = follow(app, 'follow=1&tail=1');
    await until('the tail', () => stream.body.includes('old 2'));
    expect(stream.body).to.not.include('old 1');
    await print(app, 'new 1');
    await until('the new line', () => stream.body.includes('"text":"new 1"'));
    await until('a keep-alive', () => stream.body.includes(': keep-alive'));
    await apps.remove(app);
    await stream.ended;
    expect(stream.body).to.match(/event: end\ndata: .*\n\n$/);
    await until('no follow connection', async () => (await followers()) === 0);
  });

  it("closes the follow's Redis connection when the client leaves", async () => {
    const app = await createApp();
    const before = await followers();
    const stream = follow(app);
    await until('the follow connection', async () => (await followers()) === before + 1);
    stream.req.destroy();
    await until('no follow connection', async () => (await followers()) === before);
  });

  it('ends open follows when the API closes, so shutdown does not wait on them', async () => {
    const app = await createApp();
    const streams = [follow(app), follow(app)];
    // Both follows share the API's one reader.
    await until('the follow connection', async () => (await followers()) === 1);
    await until('both follows answered', () => streams.every((s) => s.status === 200));
    const started = Date.now();
    await api!.close();
    await Promise.all(streams.map((s) => s.ended));
    expect(Date.now() - started).to.be.below(2000);
    await until('no follow connection', async () => (await followers()) === 0);
  });

  describe('follows are capped, and share one Redis connection', function () {
    const clients = async () => ((await redis.client('LIST')) as string).trim().split('\n').length;
    const openAll = async (streams: ReturnType<typeof follow>[]) =>
      until('the follows to answer', () => streams.every((s) => s.status !== 0), 10_000);

    it('N follows by one user hold one Redis connection; the N+1st gets 429 naming the limit; a closed one gives its place back', async () => {
      const perUser = 20;
      await restartApi({ logFollowsPerUser: perUser, logFollowsMax: 1000 });
      const apps = [await createApp(), await createApp()];
      const before = await clients();
      const streams = Array.from({ length: perUser }, (_, i) => follow(apps[i % 2]!));
      await openAll(streams);
      const during = await clients();
      console.log(
        `      ${perUser} follows of 2 apps: Redis clients ${before} -> ${during}, follow connections ${await followers()}`,
      );
      expect(await followers()).to.equal(1);
      expect(during - before).to.be.at.most(1);

      const refused = await get(`/apps/${apps[0]}/logs?follow=1`).expect(429);
      expect(refused.body.code).to.equal('RATE_LIMITED');
      expect(refused.body.message).to.include('GASPER_LOG_FOLLOWS_PER_USER').and.include(String(perUser));
      // The tail without follow is not a follow: still answered.
      await get(`/apps/${apps[0]}/logs?tail=1`).expect(200);

      // Every follow still gets new lines, from the one reader.
      await print(apps[0]!, 'to the even ones');
      await print(apps[1]!, 'to the odd ones');
      await until('the lines in every follow', () =>
        streams.every((s, i) => s.body.includes(i % 2 ? 'to the odd ones' : 'to the even ones')),
      );

      streams[0]!.req.destroy();
      await until(
        'a place given back',
        async () =>
          (
            await get(`/apps/${apps[0]}/logs?follow=1&tail=0`)
              .timeout(300)
              .catch((e) => e)
          ).status !== 429,
      );
      for (const s of streams) s.req.destroy();
      await until('no follow connection', async () => (await followers()) === 0);
    });

    it('the total cap holds over users: another user is refused naming GASPER_LOG_FOLLOWS_MAX', async () => {
      await restartApi({ logFollowsPerUser: 10, logFollowsMax: 3 });
      const app = await createApp();
      const other = await supertest(url)
        .post('/users')
        .set('authorization', `Bearer ${token}`)
        .send({ name: `u-${crypto.randomBytes(3).toString('hex')}`, role: 'admin' })
        .expect(201);
      const streams = [follow(app), follow(app), follow(app, undefined, other.body.token)];
      await openAll(streams);
      const refused = await supertest(url)
        .get(`/apps/${app}/logs?follow=1`)
        .set('authorization', `Bearer ${other.body.token}`)
        .expect(429);
      expect(refused.body.message).to.include('GASPER_LOG_FOLLOWS_MAX').and.not.match(/\d/);
      for (const s of streams) s.req.destroy();
    });

    it('a client that does not read loses no line and holds no memory: it reads on from Redis', async () => {
      await restartApi({ logFollowsPerUser: 10, logFollowsMax: 10 });
      const app = await createApp();
      const slow = follow(app);
      await openAll([slow]);
      slow.req.socket?.pause();
      for (let batch = 0; batch < 6; batch++)
        await print(app, ...Array.from({ length: 500 }, (_, i) => `line ${batch * 500 + i} ${'y'.repeat(200)}`));
      await print(app, 'the very last');
      slow.req.socket?.resume();
      await until('the last line', () => slow.body.includes('the very last'), 15_000);
      const ids = [...slow.body.matchAll(/"text":"line (\d+) /g)].map((m) => Number(m[1]));
      expect(ids).to.deep.equal(Array.from({ length: 3000 }, (_, i) => i));
      slow.req.destroy();
    });
  });

  describe('the byte budget', function () {
    it('16 KiB lines: the stream stays under GASPER_LOG_MAX_BYTES, each line cut and marked', async () => {
      const app = await createApp();
      const bounded = new AppLogStore(redis, { maxBytes: 1024 * 1024, maxLineBytes: 4096 });
      const line = (i: number) => `${i} ${'x'.repeat(16 * 1024)}`;
      for (let batch = 0; batch < 10; batch++) {
        await bounded.append(
          app,
          { containerId: 'c1', instance: 'i', release: 'r000001', cursor: '1' },
          Array.from({ length: 100 }, (_, i) => ({
            stream: 'stdout' as const,
            timestamp: new Date().toISOString(),
            text: line(batch * 100 + i),
          })),
        );
      }
      const memory = Number(await redis.call('MEMORY', 'USAGE', keys.appLogs(app), 'SAMPLES', '0'));
      const length = await redis.xlen(keys.appLogs(app));
      console.log(
        `      1000 lines of 16 KiB (16 MiB printed): ${length} lines kept, MEMORY USAGE ${memory} bytes (budget 1 MiB)`,
      );
      // The budget counts the lines' bytes; Redis's own overhead (allocator rounding, one listpack
      // node per long entry) adds about 30% for 4 KiB entries.
      expect(memory).to.be.below(1024 * 1024 * 1.4);
      expect(length).to.be.above(150); // the budget is used, not emptied
      const { lines } = await bounded.tail(app, 10_000);
      expect(lines.at(-1)!.text.startsWith('999 x')).to.equal(true);
      for (const l of lines) {
        expect(Buffer.byteLength(l.text)).to.be.at.most(4096);
        expect(l.text).to.match(/… \[truncated 12,\d{3} bytes\]$/);
      }
      expect(Number(await redis.get(keys.appLogBytes(app)))).to.be.at.most(1024 * 1024);
      await apps.remove(app);
      expect(await redis.exists(keys.appLogBytes(app), keys.appLogs(app))).to.equal(0);
    });

    it('short lines are kept by line count as before', async () => {
      const app = await createApp();
      const bounded = new AppLogStore(redis, { maxLines: 100 });
      await bounded.append(
        app,
        { containerId: 'c1', instance: 'i', release: 'r000001', cursor: '1' },
        Array.from({ length: 250 }, (_, i) => ({
          stream: 'stdout' as const,
          timestamp: new Date().toISOString(),
          text: `short ${i}`,
        })),
      );
      const { lines } = await bounded.tail(app, 10_000);
      expect(lines.map((l) => l.text)).to.deep.equal(Array.from({ length: 100 }, (_, i) => `short ${150 + i}`));
    });
  });
});
