import { expect } from 'chai';
import supertest from 'supertest';
import type { Express } from 'express';
import { keys } from '../../src/core/keys.ts';
import {
  appName,
  expectError,
  expectFieldError,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

/** Users, tokens, scopes, ownership, rate limits and quotas, with a real Redis behind the API. */
describe('API users and access (real Redis)', () => {
  let fx: ApiFixture;
  const as = (token: string, app: Express = fx.app) => ({
    get: (p: string) => supertest(app).get(p).set('authorization', `Bearer ${token}`),
    post: (p: string) => supertest(app).post(p).set('authorization', `Bearer ${token}`),
    patch: (p: string) => supertest(app).patch(p).set('authorization', `Bearer ${token}`),
    put: (p: string) => supertest(app).put(p).set('authorization', `Bearer ${token}`),
    del: (p: string) => supertest(app).delete(p).set('authorization', `Bearer ${token}`),
  });
  async function createUser(role: 'member' | 'admin' = 'member'): Promise<{ name: string; token: string }> {
    const name = `user-${suffix()}`;
    const res = await fx.post('/users').send({ name, role }).expect(201);
    expect(res.body.user).to.include({ name, role });
    expect(res.body.token).to.match(/^gsp_/);
    return { name, token: res.body.token };
  }

  before(async () => {
    fx = await startApiFixture();
    await fx.registerNode(`n-${suffix()}`);
  });
  after(() => fx?.close());

  it('an admin creates a user whose first token is shown once and stored only hashed', async () => {
    const alice = await createUser();
    const me = await as(alice.token).get('/users/me').expect(200);
    expect(me.body.user).to.include({ name: alice.name, role: 'member' });
    const tokens = await as(alice.token).get('/users/me/tokens').expect(200);
    expect(tokens.body.tokens).to.have.length(1);
    expect(JSON.stringify(tokens.body)).to.not.include(alice.token);
    const everything = await fx.redis.keys('gasper:*');
    for (const key of everything) {
      const type = await fx.redis.type(key);
      const value =
        type === 'string'
          ? await fx.redis.get(key)
          : type === 'hash'
            ? JSON.stringify(await fx.redis.hgetall(key))
            : '';
      expect(value ?? '', key).to.not.include(alice.token);
    }
  });

  it('says where the new user signs in: GASPER_API_URL, else the address the request came to', async () => {
    const here = await fx
      .post('/users')
      .send({ name: `user-${suffix()}` })
      .expect(201);
    expect(here.body.apiUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const app = fx.withOptions({ publicUrl: 'https://gasper.example.com/' });
    const there = await fx
      .post('/users', app)
      .send({ name: `user-${suffix()}` })
      .expect(201);
    expect(there.body.apiUrl).to.equal('https://gasper.example.com');
  });

  it('refuses bad user requests with the field named, and duplicates with 409', async () => {
    expectFieldError(await fx.post('/users').send({ name: 'Bad Name' }), 'name');
    // The release list's own actors: a user named so would pass for the platform or a push.
    for (const name of ['github', 'gasper']) expectFieldError(await fx.post('/users').send({ name }), 'name');
    expectFieldError(await fx.post('/users').send({ name: `u-${suffix()}`, role: 'root' }), 'role');
    expectFieldError(
      await fx.post('/users').send({ name: `u-${suffix()}`, quotas: { maxApps: -1 } }),
      'quotas.maxApps',
    );
    const alice = await createUser();
    expectError(await fx.post('/users').send({ name: alice.name }), 409, 'USER_EXISTS');
  });

  it('members see and touch only their own apps and jobs; others answer 404; admins see all', async () => {
    const alice = await createUser();
    const bob = await createUser();
    const name = appName('own');
    const created = await as(alice.token).post('/apps').send(validBody(name)).expect(202);
    expect(created.body.app.owner).to.equal(alice.name);
    const jobId = created.body.job.id;

    expect(
      (await as(alice.token).get('/apps').expect(200)).body.apps.map((a: { name: string }) => a.name),
    ).to.deep.equal([name]);
    expect((await as(bob.token).get('/apps').expect(200)).body.apps).to.deep.equal([]);
    expectError(await as(bob.token).get(`/apps/${name}`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).del(`/apps/${name}`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).get(`/jobs/${jobId}`), 404, 'NOT_FOUND');
    expect((await fx.apps.get(name))?.status).to.equal('queued');

    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv2ZQzUqW4c7wY9m2VQm6y6oU0pGq2l0v6r9o3QnHkK bob@laptop';
    expectError(await as(bob.token).post(`/apps/${name}/ssh-keys`).send({ key }), 404, 'NOT_FOUND');
    expectError(await as(bob.token).get(`/apps/${name}/ssh-keys`), 404, 'NOT_FOUND');
    expectError(
      await as(bob.token).put(`/apps/${name}/ssh-password`).send({ password: 'let-me-in-please' }),
      404,
      'NOT_FOUND',
    );
    await as(alice.token).post(`/apps/${name}/ssh-keys`).send({ key }).expect(201);
    expectError(await as(bob.token).post(`/apps/${name}/webhook`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).del(`/apps/${name}/webhook`), 404, 'NOT_FOUND');
    await as(alice.token).post(`/apps/${name}/webhook`).expect(201);
    expectError(await as(bob.token).get(`/apps/${name}/logs?tail=5`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).get(`/apps/${name}/metrics`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).get(`/apps/${name}/releases/r000001/build-log`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).get('/metrics'), 403, 'FORBIDDEN');
    await as(alice.token).get(`/apps/${name}/metrics`).expect(200);
    for (const op of ['restart', 'stop', 'start', 'rebuild', 'rollback']) {
      expectError(await as(bob.token).post(`/apps/${name}/${op}`), 404, 'NOT_FOUND');
    }
    expectError(
      await as(bob.token)
        .patch(`/apps/${name}`)
        .send({ env: { X: '1' } }),
      404,
      'NOT_FOUND',
    );
    expectError(await as(bob.token).get(`/apps/${name}/releases`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).get(`/apps/${name}/releases/r000001`), 404, 'NOT_FOUND');

    await as(alice.token).get(`/jobs/${jobId}`).expect(200);
    await fx.get(`/apps/${name}`).expect(200);
    await fx.get(`/jobs/${jobId}`).expect(200);
    // The same name is taken for everyone, whoever owns it.
    expectError(await as(bob.token).post('/apps').send(validBody(name)), 409, 'APP_EXISTS');
  });

  it("databases have owners too: another member's database answers 404 and cannot be linked", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const db = `db-${suffix()}`;
    const created = await as(alice.token).post('/databases').send({ name: db, engine: 'postgres' }).expect(202);
    expect(created.body.credentials.url).to.match(/^postgres(ql)?:\/\//);
    await as(alice.token).get(`/databases/${db}`).expect(200);
    expectError(await as(bob.token).get(`/databases/${db}`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).del(`/databases/${db}`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).post(`/databases/${db}/rotate-password`), 404, 'NOT_FOUND');
    expectError(await as(bob.token).get(`/jobs/${created.body.job.id}`), 404, 'NOT_FOUND');
    expect((await as(bob.token).get('/databases').expect(200)).body.databases).to.deep.equal([]);
    const app = appName('link');
    await as(bob.token).post('/apps').send(validBody(app)).expect(202);
    expectFieldError(
      await as(bob.token)
        .patch(`/apps/${app}`)
        .send({ databases: [db] }),
      'databases.0',
    );
    expectError(await fx.del(`/users/${alice.name}`), 409, 'USER_HAS_RESOURCES');
  });

  it('members cannot manage users: 403 for admin routes, 404 for another user', async () => {
    const alice = await createUser();
    const bob = await createUser();
    expectError(
      await as(alice.token)
        .post('/users')
        .send({ name: `u-${suffix()}` }),
      403,
      'FORBIDDEN',
    );
    const listed = await as(alice.token).get('/users');
    expectError(listed, 403, 'FORBIDDEN');
    // A member can hold no admin token, so the answer says who may, not which scope is missing.
    expect(listed.body.message).to.equal(`only admins may do this (you are ${alice.name}, a member)`);
    expectError(await as(alice.token).get(`/users/${bob.name}`), 404, 'NOT_FOUND');
    expectError(await as(alice.token).get(`/users/${bob.name}/tokens`), 404, 'NOT_FOUND');
    expectError(await as(alice.token).patch(`/users/${alice.name}`).send({ role: 'admin' }), 403, 'FORBIDDEN');
  });

  it('tokens carry scopes: a read token cannot deploy, a member cannot mint an admin token', async () => {
    const alice = await createUser();
    const minted = await as(alice.token)
      .post('/users/me/tokens')
      .send({ name: 'ci read-only', scopes: ['read'] })
      .expect(201);
    expect(minted.body.token).to.include({ name: 'ci read-only', user: alice.name });
    expect(minted.body.token.scopes).to.deep.equal(['read']);
    const readOnly = minted.body.secret as string;
    await as(readOnly).get('/apps').expect(200);
    expectError(
      await as(readOnly)
        .post('/apps')
        .send(validBody(appName('ro'))),
      403,
      'FORBIDDEN',
    );
    const refused = await as(readOnly).post('/users/me/tokens').send({ name: 'x' });
    expectError(refused, 403, 'FORBIDDEN');
    expect(refused.body.message).to.equal('this token lacks the "deploy" scope');
    expectFieldError(
      await as(alice.token)
        .post('/users/me/tokens')
        .send({ name: 'x', scopes: ['admin'] }),
      'scopes',
    );
    expectFieldError(
      await as(alice.token)
        .post('/users/me/tokens')
        .send({ name: 'x', scopes: ['root'] }),
      'scopes.0',
    );
  });

  it('a revoked token stops working at once', async () => {
    const alice = await createUser();
    const minted = await as(alice.token).post('/users/me/tokens').send({ name: 'temp' }).expect(201);
    await as(minted.body.secret).get('/apps').expect(200);
    await as(alice.token).del(`/users/me/tokens/${minted.body.token.id}`).expect(204);
    expectError(await as(minted.body.secret).get('/apps'), 401, 'UNAUTHORIZED');
    expectError(await as(alice.token).del(`/users/me/tokens/${minted.body.token.id}`), 404, 'NOT_FOUND');
  });

  it('quotas set by an admin refuse the app over the limit, creating nothing', async () => {
    const alice = await createUser();
    await fx
      .patch(`/users/${alice.name}`)
      .send({ quotas: { maxApps: 1 } })
      .expect(200);
    await as(alice.token)
      .post('/apps')
      .send(validBody(appName('q1')))
      .expect(202);
    const before = await fx.snapshot();
    const over = appName('q2');
    expectError(await as(alice.token).post('/apps').send(validBody(over)), 403, 'QUOTA_EXCEEDED');
    await fx.expectNothingCreated(before, over);
  });

  it('CPU and memory quotas count every instance of every app, at creation and when rescaling', async () => {
    const alice = await createUser();
    await fx
      .patch(`/users/${alice.name}`)
      .send({ quotas: { maxCpu: 2, maxMemoryMb: 1536 } })
      .expect(200);
    const first = appName('cpu1');
    await as(alice.token)
      .post('/apps')
      .send(validBody(first, { resources: { cpu: 1, memory: 512 } }))
      .expect(202);
    const before = await fx.snapshot();
    const big = appName('cpu2');
    const refused = await as(alice.token)
      .post('/apps')
      .send(validBody(big, { instances: 2, resources: { cpu: 1, memory: 256 } }));
    expectError(refused, 403, 'QUOTA_EXCEEDED');
    expect(refused.body.message).to.match(/at most 2 CPU/);
    await fx.expectNothingCreated(before, big);
    await as(alice.token)
      .post('/apps')
      .send(validBody(appName('cpu3'), { resources: { cpu: 1, memory: 512 } }))
      .expect(202);
    const rescale = await as(alice.token)
      .patch(`/apps/${first}`)
      .send({ resources: { cpu: 1, memory: 1280 } });
    expectError(rescale, 403, 'QUOTA_EXCEEDED');
    expect(rescale.body.message).to.match(/at most 1536 MiB/);
    expect((await fx.apps.get(first))?.resources).to.deep.equal({ cpu: 1, memory: 512 });
  });

  it('a user who owns apps cannot be deleted; one who does not can, and their tokens die', async () => {
    const alice = await createUser();
    const name = appName('keep');
    await as(alice.token).post('/apps').send(validBody(name)).expect(202);
    expectError(await fx.del(`/users/${alice.name}`), 409, 'USER_HAS_RESOURCES');
    await fx.apps.remove(name);
    await fx.del(`/users/${alice.name}`).expect(204);
    expectError(await as(alice.token).get('/apps'), 401, 'UNAUTHORIZED');
    expectError(await fx.del('/users/admin'), 400, 'VALIDATION_FAILED');
  });

  describe('failed authentications, per client address', () => {
    const bad = (target: Express, forwardedFor: string) =>
      supertest(target).get('/apps').set('authorization', 'Bearer wrong').set('x-forwarded-for', forwardedFor);
    // Other tests of this file fail authentications from this same loopback address too.
    beforeEach(async () => {
      for (const key of await fx.redis.keys(`${keys.rateLimit('auth-failures', '')}*`)) await fx.redis.del(key);
    });

    it('past the limit, failures get 429 with Retry-After; a valid token from the same address still passes', async () => {
      const strict = fx.withOptions({ authFailuresPerMinute: 3 });
      for (let i = 0; i < 3; i++) expectError(await bad(strict, '198.51.100.1'), 401, 'UNAUTHORIZED');
      for (let i = 0; i < 20; i++) {
        const limited = await bad(strict, '198.51.100.1');
        expectError(limited, 429, 'RATE_LIMITED');
        expect(Number(limited.headers['retry-after'])).to.be.within(1, 60);
      }
      expectError(await supertest(strict).get('/apps'), 429, 'RATE_LIMITED');
      // The admin's token, from the locked-out address, is not refused.
      await supertest(strict).get('/apps').set('authorization', `Bearer ${fx.token}`).expect(200);
      const alice = await createUser();
      await as(alice.token, strict).get('/apps').expect(200);
      // A locked-out client's failures are not counted further: the window stays bounded.
      const [counter] = await fx.redis.keys(`${keys.rateLimit('auth-failures', '')}*`);
      expect(await fx.redis.zcard(counter!)).to.equal(3);
    });

    it('X-Forwarded-For is ignored by default: a client cannot pick the address it is counted under', async () => {
      const strict = fx.withOptions({ authFailuresPerMinute: 3 });
      for (let i = 0; i < 3; i++) expectError(await bad(strict, `198.51.100.${10 + i}`), 401, 'UNAUTHORIZED');
      // A fourth "address" does not dodge the limit...
      expectError(await bad(strict, '198.51.100.99'), 429, 'RATE_LIMITED');
      // ...and no counter was kept for an address a header named.
      const counted = await fx.redis.keys(`${keys.rateLimit('auth-failures', '')}*`);
      expect(counted).to.have.length(1);
      expect(counted[0]).to.not.include('198.51.100');
    });

    it('from a configured proxy, X-Forwarded-For names the client: each is counted apart', async () => {
      const behindProxy = fx.withOptions({ authFailuresPerMinute: 3, trustedProxies: ['loopback'] });
      for (let i = 0; i < 3; i++) expectError(await bad(behindProxy, '198.51.100.20'), 401, 'UNAUTHORIZED');
      expectError(await bad(behindProxy, '198.51.100.20'), 429, 'RATE_LIMITED');
      expectError(await bad(behindProxy, '198.51.100.21'), 401, 'UNAUTHORIZED');
      expect(await fx.redis.exists(keys.rateLimit('auth-failures', '198.51.100.20'))).to.equal(1);
    });
  });

  it('rate-limits changes per user', async () => {
    const alice = await createUser();
    const strict = fx.withOptions({ changesPerMinute: 2 });
    await as(alice.token, strict)
      .post('/apps')
      .send(validBody(appName('r1')))
      .expect(202);
    await as(alice.token, strict)
      .post('/apps')
      .send(validBody(appName('r2')))
      .expect(202);
    expectError(
      await as(alice.token, strict)
        .post('/apps')
        .send(validBody(appName('r3'))),
      429,
      'RATE_LIMITED',
    );
    // Reads are not limited.
    await as(alice.token, strict).get('/apps').expect(200);
  });
});
