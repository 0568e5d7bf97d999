import { expect } from 'chai';
import { Worker, type Job } from 'bullmq';
import { startJobFailover } from '../../../src/api/cluster/job-failover.ts';
import { startNodeMonitor, type NodeMonitorHandle } from '../../../src/api/cluster/node-monitor.ts';
import { bullPrefix, keys } from '../../../src/core/keys.ts';
import { createLogger } from '../../../src/core/log.ts';
import { queueName } from '../../../src/core/naming.ts';
import { eventSchema } from '../../../src/events/schemas.ts';
import { DatabaseStore } from '../../../src/store/databases.ts';
import { eventually } from '../../support/node-processes.ts';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from '../api-fixture.ts';

/**
 * The jobs of a node that stops sending heartbeats, on a real Redis with real BullMQ queues: the
 * silent node is a registered node whose queue nobody works (as after a SIGKILL), and "its worker"
 * when it comes back is a BullMQ Worker on its queue.
 */
describe('jobs of a down node (API monitor, BullMQ)', function () {
  this.timeout(30_000);
  let fx: ApiFixture;
  const monitors: NodeMonitorHandle[] = [];
  const workers: Worker[] = [];

  beforeEach(async () => {
    fx = await startApiFixture({ nodeTimeoutMs: 1000 });
  });
  afterEach(async () => {
    for (const m of monitors.splice(0)) await m.close();
    for (const w of workers.splice(0)) await w.close(true);
    await fx?.close();
  });

  const monitor = (intervalMs = 60_000) => {
    const m = startNodeMonitor({ timeoutMs: 1000, intervalMs }, fx.deps, createLogger('silent'));
    monitors.push(m);
    return m;
  };
  const jobView = async (id: string) => (await fx.get(`/jobs/${id}`).expect(200)).body.job;
  const stateOf = async (node: string, id: string) => (await fx.queues.forNode(node).getJob(id))!.getState();
  const silence = (node: string) => fx.registerNode(node, new Date(Date.now() - 5000));

  /** Node `a` with a running app (so a move redeploys it), a second app, a database; then node `b`. */
  async function twoNodes() {
    const [a, b] = [`a-${suffix()}`, `b-${suffix()}`];
    await fx.registerNode(a);
    const moving = appName('moving');
    const first = await fx.post('/apps').send(validBody(moving)).expect(202);
    await fx.apps.update(moving, (d) => ({
      ...d,
      status: 'running',
      release: 'r000001',
      pendingRelease: undefined,
      commit: 'c'.repeat(40),
    }));
    const db = `db-${suffix()}`;
    const provision = await fx.post('/databases').send({ name: db, engine: 'postgres' }).expect(202);
    const restart = await fx.post(`/apps/${moving}/restart`).expect(202);
    const deleted = appName('deleted');
    await fx.post('/apps').send(validBody(deleted)).expect(202);
    const deletion = await fx.del(`/apps/${deleted}`).expect(202);
    const later = await fx
      .post('/databases')
      .send({ name: `db-${suffix()}`, engine: 'redis' })
      .expect(202);
    await fx.registerNode(b);
    return {
      a,
      b,
      moving,
      deleted,
      db,
      jobs: {
        deploy: first.body.job.id,
        restart: restart.body.job.id,
        provision: provision.body.job.id,
        deletion: deletion.body.job.id,
        later: later.body.job.id,
      },
    };
  }

  it('fails the jobs of moved apps naming the redeploy, finishes deletions, and keeps database jobs waiting in order', async () => {
    const { a, b, moving, deleted, db, jobs } = await twoNodes();
    const waitingBefore = (await fx.queues.forNode(a).getJobs(['wait'], 0, -1, true)).map((j) => j.id);
    expect(waitingBefore).to.include.members(Object.values(jobs));
    const silent = await silence(a);

    await monitor().check();
    const doc = (await fx.apps.get(moving))!;
    expect(doc.node).to.equal(b);
    const redeploy = doc.lastJob!;
    expect(await stateOf(b, redeploy)).to.equal('waiting');

    for (const id of [jobs.deploy, jobs.restart]) {
      const view = await jobView(id);
      expect(view.state, id).to.equal('failed');
      expect(view.error).to.equal(
        `node ${a} is down (no heartbeat since ${silent.heartbeatAt}); the app was moved to node ${b}: see job ${redeploy}`,
      );
      expect(view.log).to.include(view.error);
      expect(view.attempts.made).to.equal(1); // failed for good: no retry of a job that can do nothing
    }

    const deletion = await jobView(jobs.deletion);
    expect(deletion.state).to.equal('completed');
    expect(deletion.result).to.include({ outcome: 'deleted', containers: 0 });
    expect(deletion.result.withoutNode).to.match(
      new RegExp(`node ${a} is down .*the node's reconciliation removes its containers`),
    );
    expect(await fx.apps.get(deleted)).to.equal(undefined);
    await fx.get(`/apps/${deleted}`).expect(404);
    // The tombstone is in the stream, so proxies and DNS drop the app.
    const events = (await fx.redis.xrange(keys.events, '-', '+')).map(([, fields]) =>
      eventSchema.parse(JSON.parse(fields[1]!)),
    );
    expect(events).to.deep.include({ type: 'app.removed', app: deleted });

    // The database job waits, says why, and was not started.
    const provision = await jobView(jobs.provision);
    expect(provision).to.include({ state: 'waiting', startedAt: null });
    expect(provision.node).to.deep.equal({ id: a, state: 'down', draining: false, heartbeatAt: silent.heartbeatAt });
    expect(provision.blocked).to.match(
      new RegExp(`^node ${a} is down .*: database jobs run on the database's node only .*runs when the node returns$`),
    );
    expect((await fx.queues.forNode(a).getJobs(['wait'], 0, -1, true)).map((j) => j.id)).to.deep.equal([
      jobs.provision,
      jobs.later,
    ]);
    expect((await jobView(jobs.later)).startedAt).to.equal(null);

    // The database shows it, and comes back with its node.
    const view = (await fx.get(`/databases/${db}`).expect(200)).body.database;
    expect(view.status).to.equal('unavailable');
    expect(view.nodeState).to.include({ id: a, state: 'down', heartbeatAt: silent.heartbeatAt });
    expect(view.nodeState.message).to.match(
      /unreachable until the node returns; it is not moved, since its data is in a Docker volume/,
    );
    expect(
      (await fx.get('/databases').expect(200)).body.databases.find((d: { name: string }) => d.name === db).status,
    ).to.equal('unavailable');
    const nodes = (await fx.get('/nodes').expect(200)).body.nodes;
    const nodeA = nodes.find((n: { id: string }) => n.id === a);
    expect(nodeA).to.deep.include({ state: 'down', apps: [] });
    expect(nodeA.databases).to.include(db).and.have.length(2);
    expect(nodeA.staying.map((s: { database: string }) => s.database)).to.deep.equal(nodeA.databases);

    // Level-based: another check changes nothing.
    await monitors[0]!.check();
    expect((await fx.queues.forNode(a).getJobs(['wait'], 0, -1, true)).map((j) => j.id)).to.deep.equal([
      jobs.provision,
      jobs.later,
    ]);
    expect((await jobView(jobs.provision)).startedAt).to.equal(null);

    // The node returns: its worker runs the database job.
    await fx.registerNode(a);
    await monitors[0]!.check();
    expect((await fx.get(`/databases/${db}`).expect(200)).body.database).to.deep.include({ status: 'queued' });
    expect(await jobView(jobs.provision)).to.include({ blocked: null });
    const ran: string[] = [];
    workers.push(
      new Worker(
        queueName(a),
        async (job: Job) => {
          ran.push(job.id!);
          return { ran: true };
        },
        { connection: fx.redis, prefix: bullPrefix },
      ),
    );
    await eventually('the database jobs to run', async () => (await stateOf(a, jobs.later)) === 'completed');
    expect(ran).to.deep.equal([jobs.provision, jobs.later]);
  });

  it('a job active when its worker died (lock expired) is stalled back by the API, then failed or kept', async () => {
    const { a, moving, jobs } = await twoNodes();
    // "The node's worker" takes two jobs, then dies without finishing them: their locks expire.
    const dying = new Worker(queueName(a), null, {
      connection: fx.redis,
      prefix: bullPrefix,
      lockDuration: 300,
      autorun: false,
    });
    workers.push(dying);
    const token = 'dead-worker';
    const taken: string[] = [];
    for (
      let job = await dying.getNextJob(token, { block: false });
      job;
      job = await dying.getNextJob(token, { block: false })
    ) {
      taken.push(job.id!);
      if (taken.includes(jobs.deploy) && taken.includes(jobs.provision)) break;
    }
    expect(taken).to.include.members([jobs.deploy, jobs.provision]);
    expect(await stateOf(a, jobs.deploy)).to.equal('active');
    await silence(a);

    const m = monitor(200); // a check (and BullMQ's stalled check) every 200 ms
    await m.check();
    expect((await jobView(jobs.provision)).blocked).to.match(/database jobs run on the database's node only/);
    await eventually(
      'the stalled deploy job to be failed',
      async () => (await stateOf(a, jobs.deploy)) === 'failed',
      10_000,
    );
    expect((await jobView(jobs.deploy)).error).to.match(
      new RegExp(`node ${a} is down .*; the app was moved to node .*: see job ${(await fx.apps.get(moving))!.lastJob}`),
    );
    await eventually(
      'the stalled database job to wait again',
      async () => (await stateOf(a, jobs.provision)) === 'waiting',
      10_000,
    );
    await m.check();
    expect(await stateOf(a, jobs.provision)).to.equal('waiting');
  });

  it('a database deleted while its node is down is deleted without it: records and DNS name gone, the name free', async () => {
    const a = `a-${suffix()}`;
    await fx.registerNode(a);
    const db = `db-${suffix()}`;
    await fx.post('/databases').send({ name: db, engine: 'redis' }).expect(202);
    const { uid } = (await new DatabaseStore(fx.redis).update(db, (d) => ({ ...d, status: 'running' })))!;
    const silent = await silence(a);
    const deletion = (await fx.del(`/databases/${db}`).expect(202)).body.job.id as string;
    await monitor().check();
    const view = await jobView(deletion);
    expect(view.state).to.equal('completed');
    expect(view.result).to.deep.equal({
      outcome: 'deleted',
      containers: 0,
      withoutNode: `node ${a} is down (no heartbeat since ${silent.heartbeatAt}): the database was deleted without it; the node's reconciliation removes its container, volume (the data) and network when it returns`,
    });
    await fx.get(`/databases/${db}`).expect(404);
    expect(await fx.redis.exists(keys.database(db))).to.equal(0);
    const latest = await fx.redis.hget(keys.eventsLatest, `database:${db}`);
    expect(latest).to.equal(null); // the tombstone drops it from the snapshot
    // Recorded for the node, whose reconciliation removes the data when it returns, and only this.
    expect(await fx.redis.smembers(keys.nodeDeletedDatabases(a))).to.deep.equal([`${db}/${uid}`]);
  });

  it("a node that came back after the monitor's read keeps its jobs: its own worker does them", async () => {
    const a = `a-${suffix()}`;
    await fx.registerNode(a);
    const db = `db-${suffix()}`;
    await fx.post('/databases').send({ name: db, engine: 'redis' }).expect(202);
    await new DatabaseStore(fx.redis).update(db, (d) => ({ ...d, status: 'running' }));
    const silent = await silence(a);
    const deletion = (await fx.del(`/databases/${db}`).expect(202)).body.job.id as string;
    // The monitor read the node while it was silent; its heartbeat came back before the failover acted.
    await fx.registerNode(a);
    const failover = startJobFailover({ intervalMs: 60_000, timeoutMs: 1000 }, fx.deps, createLogger('silent'));
    try {
      expect(await failover.check([silent])).to.deep.equal([]);
    } finally {
      await failover.close();
    }
    expect(await stateOf(a, deletion)).to.equal('waiting');
    expect(await fx.redis.smembers(keys.nodeDeletedDatabases(a))).to.deep.equal([]);
    expect((await new DatabaseStore(fx.redis).get(db))?.status).to.equal('deleting');
  });

  it('several API processes settle each job once', async () => {
    const { a, jobs } = await twoNodes();
    await silence(a);
    const [m1, m2, m3] = [monitor(), monitor(), monitor()];
    await Promise.all([m1.check(), m2.check(), m3.check()]);
    expect(await stateOf(a, jobs.deploy)).to.equal('failed');
    expect(await stateOf(a, jobs.deletion)).to.equal('completed');
    expect((await fx.queues.forNode(a).getJobs(['wait'], 0, -1, true)).map((j) => j.id)).to.deep.equal([
      jobs.provision,
      jobs.later,
    ]);
    // Failed: the moved app's deploy and restart, the deleted app's first deploy; completed: the deletion.
    expect(await fx.queues.forNode(a).getJobCounts('active', 'failed', 'completed')).to.deep.equal({
      active: 0,
      failed: 3,
      completed: 1,
    });
  });

  it('app jobs wait with the app when no other node has room for it', async () => {
    const a = `a-${suffix()}`;
    await fx.registerNode(a);
    const name = appName('alone');
    const created = await fx.post('/apps').send(validBody(name)).expect(202);
    await silence(a);
    await monitor().check();
    const view = await jobView(created.body.job.id);
    expect(view.state).to.equal('waiting');
    expect(view.blocked).to.match(
      new RegExp(`^node ${a} is down .*: no other node had room for the app, so the job runs when the node returns$`),
    );
    expect((await fx.apps.get(name))!.node).to.equal(a);
  });

  it('drain and GET /nodes say which databases stay on a draining node, and why', async () => {
    const [a, b] = [`a-${suffix()}`, `b-${suffix()}`];
    await fx.registerNode(a);
    const db = `db-${suffix()}`;
    await fx.post('/databases').send({ name: db, engine: 'redis' }).expect(202);
    await fx.registerNode(b);
    const drained = await fx.post(`/nodes/${a}/drain`).expect(202);
    expect(drained.body.staying).to.have.length(1);
    expect(drained.body.staying[0].database).to.equal(db);
    expect(drained.body.staying[0].reason).to.match(
      /its data is in a Docker volume on this node, and Gasper does not move databases/,
    );
    expect(drained.body.node).to.deep.include({ databases: [db], staying: drained.body.staying });
    const view = (await fx.get(`/databases/${db}`).expect(200)).body.database;
    expect(view.status).to.equal('queued');
    expect(view.nodeState).to.include({ id: a, state: 'up', draining: true });
    expect(view.nodeState.message).to.match(new RegExp(`^node ${a} is draining; the database stays`));
    await fx.post(`/nodes/${a}/undrain`).expect(200);
    expect((await fx.get(`/nodes/${a}`).expect(200)).body.node).to.deep.include({ databases: [db], staying: [] });
  });
});
