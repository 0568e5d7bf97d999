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
  beforeEach(async () => {
    api = await startApi(
      {
        host: '127.0.0.1', port: 0, redisUrl: redisHandle.url, jobAttempts: 1, domain: 'apps.test', proxyPort: 8080,
        allowLocalRepos: true, nodeTimeoutMs: 30_000, logFollowBlockMs: 200, authFailuresPerMinute: 1000, changesPerMinute: 1000,
      },
      { log: createLogger('silent'), secrets },
    );
    url = `http://127.0.0.1:${api.port}`;
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
      name, uid: 'u1', owner: 'admin', repo: { url: 'file:///x' }, runtime: 'node', port: 8080, sealedEnv: {}, node: 'n1', status: 'running',
      instances: [], createdAt: now, updatedAt: now,
    };
    await apps.create(doc, 1);
    return name;
  }

  let clock = 0;
  async function print(app: string, ...texts: string[]): Promise<boolean> {
    const lines = texts.map((text) => ({ stream: 'stdout' as const, timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString(), text }));
    return logs.append(app, { containerId: 'c1', instance: `gasper-${app}-r000001-0`, release: 'r000001', cursor: '1' }, lines);
  }

  const get = (path: string) => supertest(url).get(path).set('authorization', `Bearer ${token}`);
  const followers = async () => ((await redis.client('LIST')) as string).split('\n').filter((l) => l.includes('name=gasper-log-follow')).length;

  /** Opens a follow and collects its raw body; `ended` resolves when the server ends it. */
  function follow(app: string, query = 'follow=1&tail=0') {
    const state = { body: '', ended: undefined as unknown as Promise<void>, req: undefined as unknown as http.ClientRequest };
    state.ended = new Promise<void>((resolve, reject) => {
      state.req = http.get(`${url}/apps/${app}/logs?${query}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
        expect(res.statusCode).to.equal(200);
        res.setEncoding('utf8');
        res.on('data', (c: string) => (state.body += c));
        res.on('end', resolve);
        res.on('error', () => resolve());
      });
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
    expect(three[0]).to.have.keys('id', 'instance', 'release', 'stream', 'timestamp', 'text');
    expect((await get(`/apps/${app}/logs?tail=0`).expect(200)).body.lines).to.deep.equal([]);
    expect((await get(`/apps/${app}/logs`).expect(200)).body.lines).to.have.length(100);
    const bad = await get(`/apps/${app}/logs?follow=maybe`).expect(400);
    expect(bad.body.fields).to.have.property('follow');
  });

  it('leaves out the lines of Gasper\'s health probes unless probes=1, in the tail and in a follow', async () => {
    const app = await createApp();
    const probe = (i: number) => `127.0.0.1 - - "GET /healthz HTTP/1.1" 200 2 "-" "gasper-health/1" #${i}`;
    // One request of a visitor among 600 probe lines: more than one page of the stream to read back.
    await print(app, 'GET / from a visitor', ...Array.from({ length: 600 }, (_, i) => probe(i)), 'last words');
    const texts = async (query: string) => (await get(`/apps/${app}/logs?${query}`).expect(200)).body.lines.map((l: { text: string }) => l.text);
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

  it('closes the follow\'s Redis connection when the client leaves', async () => {
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
    await until('two follow connections', async () => (await followers()) === 2);
    const started = Date.now();
    await api!.close();
    await Promise.all(streams.map((s) => s.ended));
    expect(Date.now() - started).to.be.below(2000);
    await until('no follow connection', async () => (await followers()) === 0);
  });
});
