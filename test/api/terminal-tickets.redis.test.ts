import { expect } from 'chai';
import type { Express } from 'express';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import { TerminalSessionStore } from '../../src/store/terminal-sessions.ts';
import { TerminalTicketStore, terminalTicketTtlMs } from '../../src/store/terminal-tickets.ts';
import {
  appName,
  expectError,
  expectFieldError,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

/**
 * Web-terminal tickets with a real Redis behind the API: who gets one (owner or admin, with a
 * token that may change the app), for which instance, and that a ticket opens one shell only,
 * within its minute, for its app, and is never stored in the clear.
 */
describe('API /apps/:name/terminal tickets (real Redis)', () => {
  let fx: ApiFixture;
  let tickets: TerminalTicketStore;
  let node: string;
  const as = (token: string, app: Express = fx.app) => ({
    get: (p: string) => supertest(app).get(p).set('authorization', `Bearer ${token}`),
    post: (p: string) => supertest(app).post(p).set('authorization', `Bearer ${token}`),
  });

  async function createUser(role: 'member' | 'admin' = 'member'): Promise<{ name: string; token: string }> {
    const name = `user-${suffix()}`;
    const res = await fx.post('/users').send({ name, role }).expect(201);
    return { name, token: res.body.token };
  }

  /** An app of `token`'s user, marked running with `count` instances (no Docker here). */
  async function runningApp(token: string, count: number): Promise<string> {
    const name = appName('term');
    await as(token).post('/apps').send(validBody(name)).expect(202);
    await fx.apps.update(name, (doc) => ({
      ...doc,
      status: 'running',
      instances: Array.from({ length: count }, (_, i) => ({
        node,
        address: '127.0.0.1',
        port: 20_000 + i,
        container: `gasper-test-${name}-${i}`,
      })),
    }));
    return name;
  }

  before(async () => {
    fx = await startApiFixture();
    node = `n-${suffix()}`;
    await fx.registerNode(node);
    tickets = new TerminalTicketStore(fx.redis);
  });
  after(() => fx?.close());

  it('issues the owner a ticket for the first instance, stored only as a hash and for a minute', async () => {
    const alice = await createUser();
    const app = await runningApp(alice.token, 2);
    const before = Date.now();
    const res = await as(alice.token).post(`/apps/${app}/terminal`).send({}).expect(201);
    expect(res.body).to.include({ socket: '/terminal', protocol: 'gasper.terminal.v1', instance: 0 });
    expect(res.body.ticket).to.match(/^gtt_[A-Za-z0-9_-]{43}$/);
    expect(res.body.instances).to.deep.equal([
      { index: 0, node, container: `gasper-test-${app}-0` },
      { index: 1, node, container: `gasper-test-${app}-1` },
    ]);
    const expiresAt = Date.parse(res.body.expiresAt);
    expect(expiresAt).to.be.within(before + terminalTicketTtlMs - 1000, Date.now() + terminalTicketTtlMs);

    // Only the SHA-256 names a key, the value holds no ticket, and Redis drops it within the minute.
    const ticketKeys = await fx.redis.keys(keys.terminalTicket('*'));
    expect(ticketKeys).to.have.length(1);
    const ttl = await fx.redis.pttl(ticketKeys[0]!);
    expect(ttl).to.be.within(1, terminalTicketTtlMs);
    for (const key of await fx.redis.keys('gasper:*')) {
      expect(key).to.not.include(res.body.ticket);
      if ((await fx.redis.type(key)) === 'string') expect(await fx.redis.get(key)).to.not.include(res.body.ticket);
    }

    const grant = await tickets.redeem(res.body.ticket);
    expect(grant).to.include({ user: alice.name, app, instance: 0 });
    expect(grant!.remote).to.be.a('string');
    expect(grant!.expiresAt).to.equal(expiresAt);
  });

  it('opens one shell per ticket: a second redeem, even at the same moment, gets nothing', async () => {
    const alice = await createUser();
    const app = await runningApp(alice.token, 1);
    const { ticket } = (await as(alice.token).post(`/apps/${app}/terminal`).send({}).expect(201)).body;
    const results = await Promise.all([tickets.redeem(ticket), tickets.redeem(ticket), tickets.redeem(ticket)]);
    expect(results.filter((g) => g !== undefined)).to.have.length(1);
    expect(await tickets.redeem(ticket)).to.equal(undefined);
    expect(await fx.redis.keys(keys.terminalTicket('*'))).to.deep.equal([]);
  });

  it('refuses an expired ticket, an unknown one and malformed ones', async () => {
    const issued = await tickets.issue({ user: 'admin', app: 'whatever' });
    expect(await tickets.redeem(issued.ticket, issued.expiresAt)).to.equal(undefined);
    // Redis forgets it too: the key was set to expire with the ticket.
    const old = await tickets.issue({ user: 'admin', app: 'whatever' });
    const [oldKey] = await fx.redis.keys(keys.terminalTicket('*'));
    await fx.redis.pexpire(oldKey!, 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await tickets.redeem(old.ticket)).to.equal(undefined);
    const fresh = await tickets.issue({ user: 'admin', app: 'whatever' });
    for (const bad of [
      '',
      'gtt_',
      `${fresh.ticket}x`,
      fresh.ticket.slice(0, -1),
      fresh.ticket.replace('gtt_', 'gsp_'),
      `gtt_${'A'.repeat(43)}`,
    ])
      expect(await tickets.redeem(bad), bad).to.equal(undefined);
    // None of those consumed the real one.
    expect(await tickets.redeem(fresh.ticket)).to.include({ user: 'admin', app: 'whatever' });
  });

  it("answers another user's app as a missing one, and a read-only token with 403", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const hers = await runningApp(alice.token, 1);
    expectError(await as(bob.token).post(`/apps/${hers}/terminal`).send({}), 404, 'NOT_FOUND');
    expectError(await as(bob.token).get(`/apps/${hers}/terminal/sessions`), 404, 'NOT_FOUND');
    expectError(await as(alice.token).post(`/apps/no-such-${suffix()}/terminal`).send({}), 404, 'NOT_FOUND');
    const readOnly = (
      await as(alice.token)
        .post('/users/me/tokens')
        .send({ name: 'read only', scopes: ['read'] })
        .expect(201)
    ).body.secret as string;
    expectError(await as(readOnly).post(`/apps/${hers}/terminal`).send({}), 403, 'FORBIDDEN');
    expect(await fx.redis.keys(keys.terminalTicket('*'))).to.deep.equal([]);
    // An admin may open a shell in anyone's app, as SSH's admin may.
    const admin = await fx.post(`/apps/${hers}/terminal`).send({}).expect(201);
    expect(await tickets.redeem(admin.body.ticket)).to.include({ user: 'admin', app: hers });
  });

  it('binds the ticket to the app and instance asked for; refuses instances the app does not have', async () => {
    const alice = await createUser();
    const app = await runningApp(alice.token, 3);
    const other = await runningApp(alice.token, 1);
    const res = await as(alice.token).post(`/apps/${app}/terminal`).send({ instance: 2 }).expect(201);
    expect(res.body.instance).to.equal(2);
    const grant = await tickets.redeem(res.body.ticket);
    expect(grant).to.include({ app, instance: 2 });
    expect(grant!.app).to.not.equal(other);

    const missing = await as(alice.token).post(`/apps/${app}/terminal`).send({ instance: 3 });
    expectError(missing, 409, 'NO_RUNNING_INSTANCE');
    expect(missing.body.fields).to.have.property('instance');
    expect(missing.body.message).to.include('0..2');
    const stopped = await runningApp(alice.token, 0);
    expectError(await as(alice.token).post(`/apps/${stopped}/terminal`).send({}), 409, 'NO_RUNNING_INSTANCE');
    expectFieldError(await as(alice.token).post(`/apps/${app}/terminal`).send({ instance: -1 }), 'instance');
    expectFieldError(await as(alice.token).post(`/apps/${app}/terminal`).send({ instance: 'one' }), 'instance');
    expectFieldError(await as(alice.token).post(`/apps/${app}/terminal`).send({ instance: 0.5 }), 'instance');
    expectFieldError(await as(alice.token).post(`/apps/${app}/terminal`).send({ shell: '/bin/zsh' }), 'shell');
  });

  it('lists the latest sessions first to the owner, with their end once they ended', async () => {
    const alice = await createUser();
    const app = await runningApp(alice.token, 1);
    const audit = new TerminalSessionStore(fx.redis);
    const first = {
      id: 'ts_1',
      user: alice.name,
      app,
      instance: 0,
      container: `gasper-test-${app}-0`,
      node,
      startedAt: '2026-01-01T10:00:00.000Z',
    };
    const second = { ...first, id: 'ts_2', startedAt: '2026-01-01T11:00:00.000Z' };
    await audit.started(first);
    await audit.started(second);
    await audit.ended(first, { endedAt: '2026-01-01T10:05:00.000Z', exitCode: 0 });
    const res = await as(alice.token).get(`/apps/${app}/terminal/sessions`).expect(200);
    expect(res.body.sessions).to.deep.equal([second, { ...first, endedAt: '2026-01-01T10:05:00.000Z', exitCode: 0 }]);
  });
});
