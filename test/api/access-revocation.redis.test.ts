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
import { AppLogStore } from '../../src/store/app-logs.ts';
import { AppStore } from '../../src/store/apps.ts';
import { NodeStore } from '../../src/store/nodes.ts';
import { defaultOptions } from './api-fixture.ts';
import { startTestRedis } from '../support/redis.ts';

interface SseEvent {
  event: string;
  data: any;
}

/**
 * Follows end when their caller loses the app, over real HTTP and a real Redis: a transfer, a
 * revoked token and the app's deletion each end the open log and metrics follows of whoever may
 * no longer see it with `event: end`, within about a second (store/access-watch.ts), however
 * often the app writes; an admin's follow goes on through a transfer.
 */
describe('follows end when access is revoked (Redis)', function () {
  this.timeout(30_000);
  let redisHandle: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let apps: AppStore;
  let logs: AppLogStore;
  let api: ApiHandle;
  let url: string;
  const adminToken = `test-${crypto.randomBytes(16).toString('hex')}`;
  const opened: http.ClientRequest[] = [];

  before(async () => {
    redisHandle = await startTestRedis();
    redis = connectRedis(redisHandle.url);
    apps = new AppStore(redis);
    logs = new AppLogStore(redis);
    await ensureAdminToken(redis, adminToken);
    await new NodeStore(redis).put({
      id: 'n1',
      address: '127.0.0.1',
      capacity: { cpus: 16, memoryBytes: 64 * 1024 ** 3 },
      startedAt: new Date().toISOString(),
      heartbeatAt: new Date().toISOString(),
    });
    // A quiet follow checks the app only every 15 s: what ends these is the access watch.
    api = await startApi(
      { ...defaultOptions, host: '127.0.0.1', port: 0, redisUrl: redisHandle.url, jobAttempts: 1 },
      { log: createLogger('silent'), secrets: createSecretBox(crypto.randomBytes(32).toString('hex')) },
    );
    url = `http://127.0.0.1:${api.port}`;
  });
  afterEach(() => {
    for (const req of opened.splice(0)) req.destroy();
  });
  after(async () => {
    await api?.close();
    redis?.disconnect();
    await redisHandle?.close();
  });

  const as = (token: string) => ({
    post: (p: string) => supertest(url).post(p).set('authorization', `Bearer ${token}`),
    get: (p: string) => supertest(url).get(p).set('authorization', `Bearer ${token}`),
    del: (p: string) => supertest(url).delete(p).set('authorization', `Bearer ${token}`),
  });
  const admin = as(adminToken);

  async function createUser(): Promise<{ name: string; token: string }> {
    const name = `user-${crypto.randomBytes(3).toString('hex')}`;
    const res = await admin.post('/users').send({ name }).expect(201);
    return { name, token: res.body.token };
  }

  async function createApp(owner: string): Promise<string> {
    const name = `rev-${crypto.randomBytes(3).toString('hex')}`;
    const now = new Date().toISOString();
    await apps.create(
      {
        name,
        uid: crypto.randomBytes(4).toString('hex'),
        owner,
        repo: { url: 'file:///x' },
        runtime: 'node',
        port: 8080,
        sealedEnv: {},
        node: 'n1',
        status: 'running',
        instances: [],
        createdAt: now,
        updatedAt: now,
      },
      1,
    );
    return name;
  }

  let clock = 0;
  const print = (app: string, text: string) =>
    logs.append(app, { containerId: 'c1', instance: `gasper-${app}-r000001-0`, release: 'r000001', cursor: '1' }, [
      { stream: 'stdout', timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString(), text },
    ]);

  /** A real HTTP client reading one event stream: its events, and when the server ended it. */
  function follow(path: string, token: string) {
    const events: SseEvent[] = [];
    const state = { events, status: 0, endedAt: 0 };
    const ready = new Promise<void>((resolveReady, reject) => {
      const ended = new Promise<void>((resolve) => {
        const req = http.get(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
          state.status = res.statusCode ?? 0;
          resolveReady();
          res.setEncoding('utf8');
          let buffer = '';
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let cut: number;
            while ((cut = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (data !== undefined) events.push({ event, data: JSON.parse(data) });
            }
          });
          res.on('end', () => {
            state.endedAt = Date.now();
            resolve();
          });
          res.on('error', () => resolve());
        });
        req.on('error', reject);
        opened.push(req);
      });
      Object.assign(state, { ended });
    });
    return Object.assign(state, { ready }) as typeof state & { ready: Promise<void>; ended: Promise<void> };
  }

  /** Resolves with how long the stream took to end after `since`, or rejects past `withinMs`. */
  async function endsWithin(f: { ended: Promise<void>; endedAt: number }, since: number, withinMs: number) {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`the follow was still open after ${withinMs} ms`)), withinMs),
    );
    await Promise.race([f.ended, timeout]);
    return f.endedAt - since;
  }

  const lastEvent = (f: { events: SseEvent[] }) => f.events.at(-1);

  it("a transfer ends the old owner's log and metrics follows at once; an admin's go on", async function () {
    const alice = await createUser();
    const bob = await createUser();
    const app = await createApp(alice.name);
    await print(app, 'before');
    const aliceLogs = follow(`/apps/${app}/logs?follow=1`, alice.token);
    const aliceMetrics = follow(`/apps/${app}/metrics?follow=1`, alice.token);
    const adminLogs = follow(`/apps/${app}/logs?follow=1`, adminToken);
    await Promise.all([aliceLogs.ready, aliceMetrics.ready, adminLogs.ready]);
    expect([aliceLogs.status, aliceMetrics.status, adminLogs.status]).to.deep.equal([200, 200, 200]);
    // Past the first watch tick, so the transfer is seen as a change, not as the opening check.
    await new Promise((r) => setTimeout(r, 700));

    const at = Date.now();
    await as(alice.token).post(`/apps/${app}/transfer`).send({ to: bob.name }).expect(200);
    // Lines keep coming: a busy follow is never quiet, and is cut all the same.
    const printing = setInterval(() => void print(app, 'during'), 50);
    try {
      const tookLogs = await endsWithin(aliceLogs, at, 2000);
      const tookMetrics = await endsWithin(aliceMetrics, at, 2000);
      expect(lastEvent(aliceLogs)).to.deep.equal({ event: 'end', data: { reason: 'access revoked' } });
      expect(lastEvent(aliceMetrics)).to.deep.equal({ event: 'end', data: { reason: 'access revoked' } });
      expect(Math.max(tookLogs, tookMetrics)).to.be.below(2000);
    } finally {
      clearInterval(printing);
    }
    // The admin sees every app: the follow is open and still gets the app's lines.
    await new Promise((r) => setTimeout(r, 1000));
    expect(adminLogs.endedAt).to.equal(0);
    await print(app, 'after');
    for (let i = 0; i < 40 && lastEvent(adminLogs)?.data.text !== 'after'; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(lastEvent(adminLogs)?.data.text).to.equal('after');
    expect(adminLogs.events.some((e) => e.event === 'end')).to.equal(false);
    // The old owner cannot open another one.
    await as(alice.token).get(`/apps/${app}/logs`).expect(404);
  });

  it('a transfer right after a follow opened (before the watch first read the counters) ends it too', async function () {
    const alice = await createUser();
    const bob = await createUser();
    const app = await createApp(alice.name);
    const f = follow(`/apps/${app}/logs?follow=1`, alice.token);
    await f.ready;
    const at = Date.now();
    await as(alice.token).post(`/apps/${app}/transfer`).send({ to: bob.name }).expect(200);
    expect(await endsWithin(f, at, 2000)).to.be.below(2000);
    expect(lastEvent(f)).to.deep.equal({ event: 'end', data: { reason: 'access revoked' } });
  });

  it('revoking the token a follow was opened with ends it', async function () {
    const alice = await createUser();
    const app = await createApp(alice.name);
    const f = follow(`/apps/${app}/logs?follow=1`, alice.token);
    await f.ready;
    await new Promise((r) => setTimeout(r, 700));
    const [token] = (await admin.get(`/users/${alice.name}/tokens`).expect(200)).body.tokens;
    const at = Date.now();
    await admin.del(`/users/${alice.name}/tokens/${token.id}`).expect(204);
    expect(await endsWithin(f, at, 2000)).to.be.below(2000);
    expect(lastEvent(f)).to.deep.equal({ event: 'end', data: { reason: 'access revoked' } });
  });

  it("an admin's follow of another's app ends when that admin is deleted or made a member", async function () {
    const alice = await createUser();
    const app = await createApp(alice.name);
    const gone = await createUser();
    const demoted = await createUser();
    for (const u of [gone, demoted])
      await supertest(url)
        .patch(`/users/${u.name}`)
        .set('authorization', `Bearer ${adminToken}`)
        .send({ role: 'admin' })
        .expect(200);
    const a = follow(`/apps/${app}/logs?follow=1`, gone.token);
    const b = follow(`/apps/${app}/metrics?follow=1`, demoted.token);
    await Promise.all([a.ready, b.ready]);
    expect([a.status, b.status]).to.deep.equal([200, 200]);
    await new Promise((r) => setTimeout(r, 700));
    const at = Date.now();
    await admin.del(`/users/${gone.name}`).expect(204);
    await supertest(url)
      .patch(`/users/${demoted.name}`)
      .set('authorization', `Bearer ${adminToken}`)
      .send({ role: 'member' })
      .expect(200);
    expect(await endsWithin(a, at, 2000)).to.be.below(2000);
    expect(await endsWithin(b, at, 2000)).to.be.below(2000);
    expect(lastEvent(a)).to.deep.equal({ event: 'end', data: { reason: 'access revoked' } });
    expect(lastEvent(b)).to.deep.equal({ event: 'end', data: { reason: 'access revoked' } });
  });

  it("deleting the app ends every follow of it, an admin's too, with the reason", async function () {
    const alice = await createUser();
    const app = await createApp(alice.name);
    const mine = follow(`/apps/${app}/metrics?follow=1`, alice.token);
    const theirs = follow(`/apps/${app}/logs?follow=1`, adminToken);
    await Promise.all([mine.ready, theirs.ready]);
    await new Promise((r) => setTimeout(r, 700));
    const at = Date.now();
    // The document stays, `deleting`, until the node's job removes it: the follows do not wait for that.
    await as(alice.token).del(`/apps/${app}`).expect(202);
    expect(await endsWithin(mine, at, 2000)).to.be.below(2000);
    expect(await endsWithin(theirs, at, 2000)).to.be.below(2000);
    expect(lastEvent(mine)).to.deep.equal({ event: 'end', data: { reason: 'app deleted' } });
    expect(lastEvent(theirs)).to.deep.equal({ event: 'end', data: { reason: 'app deleted' } });
  });
});
