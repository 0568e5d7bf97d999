import { expect } from 'chai';
import supertest from 'supertest';
import { ensureAdminToken } from '../../src/api/auth.ts';
import { appName, expectError, startApiFixture, suffix, validBody, type ApiFixture } from './api-fixture.ts';

describe('Bull Board at /admin/queues (real Redis, real BullMQ queues)', function () {
  let fx: ApiFixture;
  let nodeId: string;

  before(async function () {
    fx = await startApiFixture();
    nodeId = `n-${suffix()}`;
    await fx.registerNode(nodeId);
  });
  after(async function () {
    await fx?.close();
  });

  const queueNames = (res: supertest.Response) => (res.body.queues as { name: string }[]).map((q) => q.name).sort();

  async function login(token = fx.token): Promise<supertest.Response> {
    return supertest(fx.app).post('/admin/login').type('form').send({ token }).redirects(0);
  }
  const sessionOf = (res: supertest.Response) => /gasper_admin=([^;]+)/.exec(String(res.headers['set-cookie']))![1]!;

  it('refuses anyone else: browsers are sent to the sign-in form, other clients get 401', async function () {
    const page = await supertest(fx.app).get('/admin/queues').set('accept', 'text/html').redirects(0);
    expect(page.status).to.equal(303);
    expect(page.headers.location).to.equal('/admin/login');
    expectError(
      await supertest(fx.app).get('/admin/queues/api/queues').set('accept', 'application/json'),
      401,
      'UNAUTHORIZED',
    );
    expectError(
      await supertest(fx.app).get('/admin/queues/api/queues').set('authorization', 'Bearer wrong'),
      401,
      'UNAUTHORIZED',
    );
    expectError(
      await supertest(fx.app).get('/admin/queues/api/queues').set('cookie', 'gasper_admin=forged'),
      401,
      'UNAUTHORIZED',
    );
    expectError(await supertest(fx.app).put('/admin/queues/api/queues/pause'), 401, 'UNAUTHORIZED');
  });

  it('serves the board to the admin token, listing every node queue with its jobs', async function () {
    const page = await fx.get('/admin/queues').expect(200).expect('content-type', /html/);
    expect(page.text).to.include('Gasper queues');
    const name = appName('board');
    const created = await fx.post('/apps').send(validBody(name)).expect(202);
    const res = await fx.get(`/admin/queues/api/queues?activeQueue=node-${nodeId}&status=waiting`).expect(200);
    expect(queueNames(res)).to.include(`node-${nodeId}`);
    const queue = (res.body.queues as any[]).find((q) => q.name === `node-${nodeId}`);
    expect(queue.counts.waiting).to.be.at.least(1);
    expect(JSON.stringify(queue.jobs)).to.include(created.body.job.id);
  });

  it("shows a node's queue once the node registers", async function () {
    const later = `n-${suffix()}`;
    expect(queueNames(await fx.get('/admin/queues/api/queues').expect(200))).to.not.include(`node-${later}`);
    await fx.registerNode(later);
    expect(queueNames(await fx.get('/admin/queues/api/queues').expect(200))).to.include.members([
      `node-${nodeId}`,
      `node-${later}`,
    ]);
  });

  it('shows the cluster-wide certificates queue', async function () {
    expect(queueNames(await fx.get('/admin/queues/api/queues').expect(200))).to.include('certificates');
  });

  it('signs a browser in with a session cookie: HttpOnly, SameSite=Strict, only its hash stored', async function () {
    expect((await supertest(fx.app).get('/admin/login').expect(200)).text).to.include(
      '<form method="post" action="/admin/login">',
    );
    const wrong = await login('not-the-token');
    expect(wrong.status).to.equal(401);
    expect(wrong.headers['set-cookie']).to.equal(undefined);

    const res = await login();
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/admin/queues');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie)
      .to.match(/HttpOnly/)
      .and.match(/SameSite=Strict/)
      .and.match(/Path=\/admin/)
      .and.match(/Max-Age=43200/);
    const session = sessionOf(res);
    const page = await supertest(fx.app).get('/admin/queues').set('cookie', `gasper_admin=${session}`).expect(200);
    expect(page.text).to.include('Gasper queues');
    await supertest(fx.app).get('/admin/queues/api/queues').set('cookie', `gasper_admin=${session}`).expect(200);
    // The session opens the board, not the rest of the API.
    expectError(await supertest(fx.app).get('/apps').set('cookie', `gasper_admin=${session}`), 401, 'UNAUTHORIZED');
    for (const key of await fx.redis.keys('gasper:admin-session:*')) expect(key).to.not.include(session);
    for (const key of await fx.redis.keys('gasper:*')) {
      if ((await fx.redis.type(key)) === 'string') expect(await fx.redis.get(key)).to.not.include(session);
    }
  });

  it('logout ends the session', async function () {
    const session = sessionOf(await login());
    const out = await supertest(fx.app).post('/admin/logout').set('cookie', `gasper_admin=${session}`).redirects(0);
    expect(out.status).to.equal(303);
    expect(String(out.headers['set-cookie'])).to.match(/gasper_admin=;/);
    expectError(
      await supertest(fx.app).get('/admin/queues/api/queues').set('cookie', `gasper_admin=${session}`),
      401,
      'UNAUTHORIZED',
    );
  });

  it('rotating the admin token ends every session', async function () {
    const session = sessionOf(await login());
    await supertest(fx.app).get('/admin/queues/api/queues').set('cookie', `gasper_admin=${session}`).expect(200);
    const rotated = `gsp_rotated_${suffix()}${suffix()}`;
    await ensureAdminToken(fx.redis, rotated);
    try {
      expectError(
        await supertest(fx.app).get('/admin/queues/api/queues').set('cookie', `gasper_admin=${session}`),
        401,
        'UNAUTHORIZED',
      );
    } finally {
      await ensureAdminToken(fx.redis, fx.token);
    }
  });
});
