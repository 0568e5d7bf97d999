import { expect } from 'chai';
import supertest from 'supertest';
import { startNodeMonitor } from '../../src/api/cluster/node-monitor.ts';
import { keys } from '../../src/core/keys.ts';
import { createLogger } from '../../src/core/log.ts';
import { eventSchema } from '../../src/events/schemas.ts';
import { ReleaseCauseStore } from '../../src/store/release-causes.ts';
import { appName, expectError, startApiFixture, suffix, validBody, type ApiFixture } from './api-fixture.ts';

/** GET /nodes, drain and undrain, and the node monitor (down → node.state event, apps moved), on a real Redis. */
describe('nodes (API and monitor)', function () {
  let fx: ApiFixture;

  beforeEach(async () => {
    fx = await startApiFixture();
  });
  afterEach(() => fx?.close());

  const queuedJobs = async (node: string) =>
    (await fx.queues.forNode(node).getJobs(['waiting', 'delayed', 'active'])).map((j) => ({
      name: j.name,
      data: j.data,
    }));
  const latestNodeEvent = async (node: string) => {
    const raw = await fx.redis.hget(keys.eventsLatest, `node:${node}`);
    return raw ? eventSchema.parse(JSON.parse(raw)) : undefined;
  };

  it('lists nodes with capacity, state, draining and what is placed there; admins only', async () => {
    const a = `a-${suffix()}`;
    await fx.registerNode(a);
    const name = appName('listed');
    await fx.post('/apps').send(validBody(name)).expect(202);
    const res = await fx.get('/nodes').expect(200);
    expect(res.body.nodes).to.have.length(1);
    expect(res.body.nodes[0]).to.deep.include({
      id: a,
      address: '127.0.0.1',
      state: 'up',
      draining: false,
      apps: [name],
    });
    expect(res.body.nodes[0].capacity).to.deep.equal({ cpus: 16, memoryBytes: 64 * 1024 ** 3 });
    expect(res.body.nodes[0].reserved).to.deep.equal({ cpu: 1, memoryBytes: 512 * 1024 ** 2 });

    const member = await fx
      .post('/users')
      .send({ name: `user-${suffix()}`, role: 'member' })
      .expect(201);
    const asMember = (p: string) => supertest(fx.app).get(p).set('authorization', `Bearer ${member.body.token}`);
    expectError(await asMember('/nodes'), 403, 'FORBIDDEN');
    expectError(await fx.post('/nodes/nope/drain'), 404, 'NOT_FOUND');
  });

  it('places apps by free resources: each new app on the emptiest node', async () => {
    const [a, b] = [`a-${suffix()}`, `b-${suffix()}`];
    await fx.registerNode(a);
    await fx.registerNode(b);
    const placed = [];
    for (let i = 0; i < 4; i++) {
      const res = await fx
        .post('/apps')
        .send(validBody(appName('spread')))
        .expect(202);
      placed.push((await fx.apps.get(res.body.app.name))!.node);
    }
    expect(placed.filter((n) => n === a)).to.have.length(2);
    expect(placed.filter((n) => n === b)).to.have.length(2);
  });

  it("spreads one app's instances over the nodes: a deploy job on each, the primary's to poll; rescaling places anew", async () => {
    const [a, b] = [`a-${suffix()}`, `b-${suffix()}`];
    await fx.registerNode(a);
    await fx.registerNode(b);
    const name = appName('wide');
    const res = await fx
      .post('/apps')
      .send({ ...validBody(name), instances: 3 })
      .expect(202);
    const doc = (await fx.apps.get(name))!;
    // Spread first, then the emptiest (equal here), then the smaller id.
    expect(doc.placement).to.deep.equal([a, b, a]);
    expect(doc.node).to.equal(doc.placement![0]);
    expect(res.body.app.placement).to.deep.equal(doc.placement);
    const other = doc.node === a ? b : a;
    expect(res.body.job.id).to.equal(`deploy-${name}-${doc.uid}-r000001`);
    expect((await queuedJobs(doc.node)).map((j) => j.data.release)).to.deep.equal(['r000001']);
    expect((await queuedJobs(other)).map((j) => j.data.release)).to.deep.equal(['r000001']);
    expect((await fx.get(`/jobs/deploy-${name}-${doc.uid}-r000001-on-${other}`).expect(200)).body.job.queue).to.equal(
      `node-${other}`,
    );
    // GET /nodes counts each node's share.
    const nodes = (await fx.get('/nodes').expect(200)).body.nodes as {
      id: string;
      apps: string[];
      reserved: { cpu: number };
    }[];
    for (const n of nodes) {
      expect(n.apps).to.deep.equal([name]);
      expect(n.reserved.cpu).to.equal(doc.placement!.filter((p) => p === n.id).length);
    }

    // Down to one instance: one node, and the deploy goes there only.
    await fx.apps.update(name, (d) => ({ ...d, status: 'running', release: 'r000001', pendingRelease: undefined }));
    const patched = await fx.patch(`/apps/${name}`).send({ instances: 1 }).expect(202);
    const one = (await fx.apps.get(name))!;
    expect(one.placement).to.have.length(1);
    expect(patched.body.app.placement).to.deep.equal(one.placement);
    expect(await queuedJobs(one.node)).to.have.length(2);
    expect(await queuedJobs(one.node === a ? b : a)).to.have.length(1);
  });

  it("an app linked to a database runs all its instances on the database's node", async () => {
    const [a, b] = [`a-${suffix()}`, `b-${suffix()}`];
    await fx.registerNode(a);
    await fx.registerNode(b);
    const db = `db-${suffix()}`;
    await fx.post('/databases').send({ name: db, engine: 'redis' }).expect(202);
    const dbNode = (await fx.get(`/databases/${db}`).expect(200)).body.database.node as string;
    const name = appName('linked');
    await fx
      .post('/apps')
      .send({ ...validBody(name), instances: 2 })
      .expect(202);
    expect(new Set((await fx.apps.get(name))!.placement).size).to.equal(2);
    await fx
      .patch(`/apps/${name}`)
      .send({ databases: [db] })
      .expect(202);
    const doc = (await fx.apps.get(name))!;
    expect(doc.placement).to.deep.equal([dbNode, dbNode]);
    expect(doc.node).to.equal(dbNode);
  });

  it('409 NO_CAPACITY when no node has room, nothing created', async () => {
    const a = `a-${suffix()}`;
    // 2 GiB: four default apps (512 MiB) fill it; its 1 CPU counts 8 times (8 CPU limits).
    await fx.nodes.put({ ...(await fx.registerNode(a)), capacity: { cpus: 1, memoryBytes: 2 * 1024 ** 3 } });
    for (let i = 0; i < 4; i++)
      await fx
        .post('/apps')
        .send(validBody(appName('fill')))
        .expect(202);
    const name = appName('toomuch');
    const before = await fx.snapshot();
    const res = await fx.post('/apps').send(validBody(name));
    expectError(res, 409, 'NO_CAPACITY');
    expect(res.body.message).to.match(/no node has 1 CPU and 512 MiB free/);
    await fx.expectNothingCreated(before, name);
  });

  it('databases take room on their node like apps do, and are refused when none is left', async () => {
    const a = `a-${suffix()}`;
    await fx.nodes.put({ ...(await fx.registerNode(a)), capacity: { cpus: 1, memoryBytes: 2 * 1024 ** 3 } });
    await fx
      .post('/databases')
      .send({ name: `db-${suffix()}`, engine: 'postgres', resources: { memoryMb: 1536 } })
      .expect(202);
    await fx
      .post('/apps')
      .send(validBody(appName('fits')))
      .expect(202);
    const name = appName('toomuch');
    expectError(await fx.post('/apps').send(validBody(name)), 409, 'NO_CAPACITY');
    expectError(await fx.post('/databases').send({ name: `db-${suffix()}`, engine: 'redis' }), 409, 'NO_CAPACITY');
  });

  it('apps that failed, stopped or crashed with no container hold no room; a refusal names the biggest holders', async () => {
    const a = `a-${suffix()}`;
    // 2 cores (16 CPU limits at the default over-commit) and 2.5 GiB: five default apps (512 MiB) fill it.
    await fx.nodes.put({ ...(await fx.registerNode(a)), capacity: { cpus: 2, memoryBytes: 2.5 * 1024 ** 3 } });
    const idle: string[] = [];
    for (const status of ['failed', 'failed', 'failed', 'stopped', 'crashed'] as const) {
      const name = appName(status);
      await fx.post('/apps').send(validBody(name)).expect(202);
      // What the worker leaves: a first deploy that failed, or an app whose containers are gone.
      await fx.apps.update(name, (d) => ({
        ...d,
        status,
        pendingRelease: undefined,
        instances: [],
        ...(status === 'failed' ? {} : { release: 'r000001' }),
      }));
      idle.push(name);
    }
    expect((await fx.get(`/nodes/${a}`).expect(200)).body.node.reserved).to.deep.equal({ cpu: 0, memoryBytes: 0 });
    const db = `db-${suffix()}`;
    await fx.post('/databases').send({ name: db, engine: 'redis' }).expect(202);
    const big = appName('big');
    await fx
      .post('/apps')
      .send({ ...validBody(big), resources: { memory: 1024 } })
      .expect(202);
    const small = appName('small');
    await fx
      .post('/apps')
      .send({ ...validBody(small), resources: { cpu: 0.5, memory: 256 } })
      .expect(202);

    // 1792 of 2560 MiB held now: 1024 MiB more fits nowhere, and the message says who holds it.
    const res = await fx.post('/apps').send({ ...validBody(appName('toomuch')), resources: { memory: 1024 } });
    expectError(res, 409, 'NO_CAPACITY');
    expect(res.body.message).to.include(
      `held most by app ${big} on ${a} (1 CPU, 1024 MiB), database ${db} on ${a} (1 CPU, 512 MiB), app ${small} on ${a} (0.5 CPU, 256 MiB)`,
    );
    for (const name of idle) expect(res.body.message).not.to.include(name);

    // An app that holds nothing asks for room again: a rebuild or a start is refused while none is left.
    const [failed, , , stopped] = idle as [string, string, string, string, string];
    await fx
      .post('/apps')
      .send({ ...validBody(appName('last')), resources: { cpu: 0.5, memory: 512 } })
      .expect(202);
    expectError(await fx.post(`/apps/${failed}/rebuild`), 409, 'NO_CAPACITY');
    expectError(await fx.post(`/apps/${stopped}/start`), 409, 'NO_CAPACITY');
    expect((await fx.apps.get(failed))!.pendingRelease).to.equal(undefined);
  });

  it('drain moves apps to another node with a redeploy of the same commit, and stops placing there; undrain', async () => {
    const [a, b] = [`a-${suffix()}`, `b-${suffix()}`];
    await fx.registerNode(a);
    const name = appName('drained');
    await fx.post('/apps').send(validBody(name)).expect(202);
    // As if the first deploy ran: a release and its commit.
    const commit = 'c'.repeat(40);
    await fx.apps.update(name, (d) => ({
      ...d,
      status: 'running',
      release: 'r000001',
      pendingRelease: undefined,
      commit,
    }));
    await fx.registerNode(b);

    const res = await fx.post(`/nodes/${a}/drain`).expect(202);
    expect(res.body.node).to.include({ id: a, draining: true });
    expect(res.body.moved).to.have.length(1);
    expect(res.body.moved[0]).to.include({ app: name, to: b });
    expect(res.body.unplaced).to.deep.equal([]);
    const doc = (await fx.apps.get(name))!;
    expect(doc).to.include({ node: b, status: 'running', release: 'r000001', pendingRelease: 'r000002' });
    expect(await queuedJobs(b)).to.deep.include({
      name: 'deploy-app',
      data: { app: name, uid: doc.uid, release: 'r000002', commit },
    });
    const job = await fx.get(`/jobs/${res.body.moved[0].job}`).expect(200);
    expect(job.body.job.queue).to.equal(`node-${b}`);
    const [cause] = (await new ReleaseCauseStore(fx.redis).byRelease(name)).get('r000002')!;
    expect(cause).to.include({ by: 'admin', reason: `moved off node ${a}` });

    // Draining twice moves nothing more; new apps avoid the drained node.
    expect((await fx.post(`/nodes/${a}/drain`).expect(202)).body.moved).to.deep.equal([]);
    const other = await fx
      .post('/apps')
      .send(validBody(appName('after')))
      .expect(202);
    expect((await fx.apps.get(other.body.app.name))!.node).to.equal(b);

    expect((await fx.post(`/nodes/${a}/undrain`).expect(200)).body.node).to.include({ id: a, draining: false });
    const third = await fx
      .post('/apps')
      .send(validBody(appName('back')))
      .expect(202);
    expect((await fx.apps.get(third.body.app.name))!.node).to.equal(a);
  });

  it('drain reports apps that fit nowhere and leaves them serving where they are', async () => {
    const a = `a-${suffix()}`;
    await fx.registerNode(a);
    const name = appName('stuck');
    await fx.post('/apps').send(validBody(name)).expect(202);
    const res = await fx.post(`/nodes/${a}/drain`).expect(202);
    expect(res.body.moved).to.deep.equal([]);
    expect(res.body.unplaced).to.have.length(1);
    expect(res.body.unplaced[0].app).to.equal(name);
    expect(res.body.unplaced[0].reason).to.match(/none of the 1 registered nodes can take instances \(1 draining\)/);
    expect((await fx.apps.get(name))!.node).to.equal(a);
  });

  it('retires a node whose worker is gone and that holds nothing any more; refuses one that is up or still holds apps or databases', async () => {
    const [a, b] = [`a-${suffix()}`, `b-${suffix()}`];
    await fx.registerNode(a);
    const name = appName('retired');
    await fx.post('/apps').send(validBody(name)).expect(202);
    await fx.registerNode(b);
    const db = `db-${suffix()}`;
    await fx.post('/databases').send({ name: db, engine: 'redis' }).expect(202);
    expect((await fx.get(`/databases/${db}`).expect(200)).body.database.node).to.equal(b);

    const up = await fx.del(`/nodes/${a}`);
    expectError(up, 409, 'NODE_IN_USE');
    expect(up.body.message).to.match(/is up: stop its worker first/);
    await fx.registerNode(a, new Date(Date.now() - 60_000)); // its worker is gone
    const holding = await fx.del(`/nodes/${a}`);
    expectError(holding, 409, 'NODE_IN_USE');
    expect(holding.body.message).to.include(`still holds app ${name}`);

    await fx.post(`/nodes/${a}/drain`).expect(202);
    expect((await fx.del(`/nodes/${a}`).expect(200)).body).to.deep.equal({ removed: a });
    await fx.get(`/nodes/${a}`).expect(404);
    expect((await fx.get('/nodes').expect(200)).body.nodes.map((n: { id: string }) => n.id)).to.deep.equal([b]);
    for (const key of [keys.node(a), keys.nodeState(a), keys.nodeReconcile(a)])
      expect(await fx.redis.exists(key), key).to.equal(0);
    expect(await fx.redis.sismember(keys.nodesDraining, a)).to.equal(0);
    expectError(await fx.del(`/nodes/${a}`), 404, 'NOT_FOUND');

    await fx.registerNode(b, new Date(Date.now() - 60_000));
    const withDatabase = await fx.del(`/nodes/${b}`);
    expectError(withDatabase, 409, 'NODE_IN_USE');
    expect(withDatabase.body.message).to.include(`app ${name}, database ${db}`);
  });

  it('the monitor marks a silent node down (node.state event), moves its apps, and marks it up again', async () => {
    const [a, b] = [`a-${suffix()}`, `b-${suffix()}`];
    await fx.registerNode(a);
    await fx.registerNode(b);
    const name = appName('failover');
    await fx.post('/apps').send(validBody(name)).expect(202);
    const from = (await fx.apps.get(name))!.node;
    const to = from === a ? b : a;
    const monitor = startNodeMonitor({ timeoutMs: 1000, intervalMs: 60_000 }, fx.deps, createLogger('silent'));
    try {
      await monitor.check();
      expect(await latestNodeEvent(from)).to.equal(undefined); // up from the start: nothing to announce

      await fx.registerNode(from, new Date(Date.now() - 5000)); // its heartbeats stopped
      await monitor.check();
      expect(await latestNodeEvent(from)).to.deep.equal({
        type: 'node.state',
        node: from,
        state: 'down',
        address: '127.0.0.1',
      });
      expect(await fx.redis.get(keys.nodeState(from))).to.equal('down');
      const doc = (await fx.apps.get(name))!;
      expect(doc.node).to.equal(to);
      expect(doc.pendingRelease).to.equal('r000002');
      expect((await queuedJobs(to)).map((j) => j.data.release)).to.include('r000002');
      const [cause] = (await new ReleaseCauseStore(fx.redis).byRelease(name)).get('r000002')!;
      expect(cause, "the platform's own").to.include({ by: 'gasper', reason: `moved off node ${from}` });
      // The first release's job, left on the silent node's queue, ended (api/cluster/job-failover.ts).
      expect(await queuedJobs(from)).to.deep.equal([]);
      const first = (await fx.queues.forNode(from).getJobs(['failed']))[0]!;
      expect(first.data.release).to.equal('r000001');
      expect(first.failedReason).to.match(
        new RegExp(`^node ${from} is down .*; the app was moved to node ${to}: see job ${doc.lastJob}$`),
      );

      await monitor.check(); // level-based: nothing more to move, nothing new to announce
      expect((await fx.apps.get(name))!.pendingRelease).to.equal('r000002');

      await fx.registerNode(from);
      await monitor.check();
      expect(await latestNodeEvent(from)).to.deep.include({ state: 'up' });
      expect((await fx.get('/nodes').expect(200)).body.nodes.find((n: { id: string }) => n.id === from).state).to.equal(
        'up',
      );
    } finally {
      await monitor.close();
    }
  });
});
