import { expect } from 'chai';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import { DatabaseStore } from '../../src/store/databases.ts';
import { ReleaseCauseStore } from '../../src/store/release-causes.ts';
import {
  appName,
  expectError,
  expectFieldError,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

/** The `/databases` routes and database linking, in-process, with real Redis and BullMQ. */
describe('databases API (Redis, BullMQ)', function () {
  this.timeout(20_000);
  let f: ApiFixture;
  let node: string;
  const dbName = () => `db-${suffix()}`;
  const patch = (path: string) => supertest(f.app).patch(path).set('authorization', `Bearer ${f.token}`);

  before(async () => {
    f = await startApiFixture();
  });
  beforeEach(async () => {
    node = `n-${suffix()}`;
    await f.registerNode(node);
  });
  afterEach(async () => {
    // Later tests see only fresh nodes: age this one out.
    await f.registerNode(node, new Date(Date.now() - 3_600_000));
  });
  after(async () => f?.close());

  async function create(name = dbName(), engine = 'postgres') {
    const res = await f.post('/databases').send({ name, engine });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return res.body;
  }

  it('creates: 202 with the database, its job and the one-time credentials', async () => {
    const name = dbName();
    const body = await create(name, 'postgres');
    expect(body.database).to.include({ name, engine: 'postgres', status: 'queued', node, host: '127.0.0.1' });
    expect(body.database.port).to.be.within(15000, 19999);
    expect(body.job.id).to.match(new RegExp(`^db-provision-${name}-[0-9a-f]{10}$`));
    expect(body.credentials.password).to.match(/^[A-Za-z0-9_-]{32}$/);
    const id = name.replace(/-/g, '_');
    expect(body.credentials.url).to.equal(
      `postgres://u_${id}:${body.credentials.password}@127.0.0.1:${body.database.port}/${id}`,
    );
    const job = await f.queues.forNode(node).getJob(body.job.id);
    expect(job?.name).to.equal('db-provision');
    expect(job?.data).to.deep.equal({ database: name, uid: JSON.parse((await f.redis.get(keys.database(name)))!).uid });
  });

  it('never returns or stores the password in clear', async () => {
    const name = dbName();
    const { credentials } = await create(name, 'redis');
    expect(credentials.url).to.match(/^redis:\/\/default:[A-Za-z0-9_-]{32}@127\.0\.0\.1:\d+$/);
    const answers = [
      (await f.get(`/databases/${name}`).expect(200)).body,
      (await f.get('/databases').expect(200)).body,
    ];
    for (const answer of answers) expect(JSON.stringify(answer)).not.to.include(credentials.password);
    for (const key of await f.redis.keys('gasper:*')) {
      if ((await f.redis.type(key)) === 'string')
        expect(String(await f.redis.get(key))).not.to.include(credentials.password);
    }
    const doc = await new DatabaseStore(f.redis).get(name);
    expect(f.secrets.open(doc!.sealedPassword)).to.equal(credentials.password);
  });

  it('gives each database of a node its own port', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 5; i++) ports.add((await create()).database.port);
    expect(ports.size).to.equal(5);
  });

  for (const [label, body, field] of [
    ['a missing name', { engine: 'postgres' }, 'name'],
    ['a name that is not a DNS label', { name: 'Bad_Name', engine: 'postgres' }, 'name'],
    ['a reserved name', { name: 'admin', engine: 'postgres' }, 'name'],
    ['an unknown engine', { name: 'x', engine: 'oracle' }, 'engine'],
    ['mongodb, which cannot be installed here', { name: 'x', engine: 'mongodb' }, 'engine'],
    ['too little memory', { name: 'x', engine: 'redis', resources: { memoryMb: 1 } }, 'resources.memoryMb'],
    ['an unknown resource', { name: 'x', engine: 'redis', resources: { disk: 5 } }, 'resources.disk'],
    ['an unknown field', { name: 'x', engine: 'redis', password: 'mine' }, 'password'],
  ] as const) {
    it(`refuses ${label} with a 400 naming ${field}, creating nothing`, async () => {
      const before = await f.snapshot();
      const res = await f.post('/databases').send({ ...body, ...(body.name === 'x' ? { name: dbName() } : {}) });
      expectFieldError(res, field);
      await f.expectNothingCreated(before);
    });
  }

  it('answers 409 for a name taken, leaving the first alone', async () => {
    const name = dbName();
    const first = await create(name);
    const before = await f.snapshot();
    const res = await f.post('/databases').send({ name, engine: 'mysql' });
    expectError(res, 409, 'DATABASE_EXISTS');
    await f.expectNothingCreated(before);
    expect((await f.get(`/databases/${name}`).expect(200)).body.database.port).to.equal(first.database.port);
  });

  it('answers 404 for an unknown database on every route', async () => {
    const name = dbName();
    expectError(await f.get(`/databases/${name}`), 404, 'NOT_FOUND');
    expectError(await f.del(`/databases/${name}`), 404, 'NOT_FOUND');
    expectError(await f.post(`/databases/${name}/rotate-password`), 404, 'NOT_FOUND');
    expectError(await f.post(`/databases/${name}/backups`), 404, 'NOT_FOUND');
    expectError(await f.get(`/databases/${name}/backups`), 404, 'NOT_FOUND');
    expectError(await f.get(`/databases/${name}/backups/x`), 404, 'NOT_FOUND');
    expectError(await f.post(`/databases/${name}/restore`).send({ backup: 'x' }), 404, 'NOT_FOUND');
  });

  it('refuses backups of a database that is not running yet (409), and restores of unknown backups (400)', async () => {
    const name = dbName();
    await create(name);
    expectError(await f.post(`/databases/${name}/backups`), 409, 'DATABASE_NOT_RUNNING');
    expectFieldError(await f.post(`/databases/${name}/restore`).send({ backup: 'nope' }), 'backup');
    expectFieldError(await f.post(`/databases/${name}/restore`).send({}), 'backup');
    expect((await f.get(`/databases/${name}/backups`).expect(200)).body.backups).to.deep.equal([]);
  });

  it('rotates: a new password once, a new version and job, the old password no longer stored', async () => {
    const name = dbName();
    const created = await create(name);
    const res = await f.post(`/databases/${name}/rotate-password`).expect(202);
    expect(res.body.credentials.password).to.not.equal(created.credentials.password);
    expect(res.body.job.id).to.match(new RegExp(`^db-rotate-${name}-[0-9a-f]{10}-v2$`));
    const doc = await new DatabaseStore(f.redis).get(name);
    expect(doc!.passwordVersion).to.equal(2);
    expect(f.secrets.open(doc!.sealedPassword)).to.equal(res.body.credentials.password);
  });

  it('deletes: 202 and a delete job; asking twice returns the same job', async () => {
    const name = dbName();
    await create(name);
    const first = await f.del(`/databases/${name}`).expect(202);
    expect(first.body.database.status).to.equal('deleting');
    const second = await f.del(`/databases/${name}`).expect(202);
    expect(second.body.job.id).to.equal(first.body.job.id);
    expectError(await f.get(`/databases/${name}`), 404, 'NOT_FOUND');
  });

  describe('PATCH /apps/:name {databases}', () => {
    it('links: records the databases and queues a new release', async () => {
      const app = appName();
      await f.post('/apps').send(validBody(app)).expect(202);
      const db = dbName();
      await create(db);
      const res = await patch(`/apps/${app}`).send({ databases: [db] });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.body.app.databases).to.deep.equal([db]);
      expect(res.body.job.id).to.match(new RegExp(`^deploy-${app}-[0-9a-f]{10}-r000002$`));
      expect((await f.apps.get(app))!.pendingRelease).to.equal('r000002');
      const [cause] = (await new ReleaseCauseStore(f.redis).byRelease(app)).get('r000002')!;
      expect(cause).to.include({ by: 'admin', reason: `databases linked: ${db}` });
      expectError(await f.del(`/databases/${db}`), 409, 'DATABASE_LINKED');
    });

    it('refuses unknown databases (400 naming the entry) and bad bodies, changing nothing', async () => {
      const app = appName();
      await f.post('/apps').send(validBody(app)).expect(202);
      const db = dbName();
      await create(db);
      const before = await f.snapshot();
      expectFieldError(await patch(`/apps/${app}`).send({ databases: [db, 'missing-db'] }), 'databases.1');
      expectFieldError(await patch(`/apps/${app}`).send({ databases: 'x' }), 'databases');
      expectFieldError(await patch(`/apps/${app}`).send({ databases: [db, db] }), 'databases');
      expectFieldError(await patch(`/apps/${app}`).send({ databases: [db], run: 'x' }), 'run');
      await f.expectNothingCreated(before);
      expectError(await patch(`/apps/${appName()}`).send({ databases: [db] }), 404, 'NOT_FOUND');
    });
  });
});
