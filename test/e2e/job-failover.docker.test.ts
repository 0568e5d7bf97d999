import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { expect } from 'chai';
import supertest from 'supertest';
import { containerLabels } from '../../src/core/naming.ts';
import type { EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { docker, managedContainers, removeNodeContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import {
  eventually,
  newSecretKey,
  spawnWorker,
  startControlPlane,
  type ClusterEnv,
  type ControlPlane,
  type GasperProcess,
} from '../support/node-processes.ts';
import { viaProxy } from '../support/platform.ts';
import { startTestRedis } from '../support/redis.ts';

/**
 * The jobs waiting on a node whose worker is killed (SIGKILL), with real `gasper worker`
 * processes (both on this machine's Docker daemon, told apart by their node labels), API and
 * proxy in this process: a restart of an app that moves ends failed naming the redeploy, a
 * deletion completes without the node, a database's backup waits (the database shows
 * unavailable); when the node's worker returns the backup runs and its reconciliation removes
 * what it still held of both apps.
 */
describe('jobs of a killed node (Docker, Redis, processes)', function () {
  this.timeout(240_000);
  const hex = () => crypto.randomBytes(3).toString('hex');
  const [nodeA, nodeB] = [`t-fa-${hex()}`, `t-fb-${hex()}`];
  let redis: EmbeddedRedisHandle;
  let cluster: ClusterEnv;
  let control: ControlPlane;
  let repo: GitFixture;
  const workers: (GasperProcess & { stateDir: string })[] = [];

  const api = () => control.api();
  const del = (p: string) =>
    supertest(`http://127.0.0.1:${control.platform.api!.port}`)
      .delete(p)
      .set('authorization', `Bearer ${control.token}`);
  const job = async (id: string) => (await api().get(`/jobs/${id}`).expect(200)).body.job;
  const nodeUp = (id: string, after = 0) =>
    eventually(
      `node ${id} up`,
      async () => {
        const nodes = (await api().get('/nodes').expect(200)).body.nodes as {
          id: string;
          state: string;
          startedAt: string;
        }[];
        return nodes.some((n) => n.id === id && n.state === 'up' && Date.parse(n.startedAt) >= after);
      },
      60_000,
    );

  before(async () => {
    await requireDocker();
    redis = await startTestRedis();
    cluster = { redisUrl: redis.url, secretKey: newSecretKey() };
    control = await startControlPlane(cluster);
    repo = await createGitRepo(helloNodeApp('failover'));
  });
  after(async function () {
    this.timeout(60_000);
    for (const w of workers) await w.stop('SIGKILL');
    await removeNodeContainers(nodeA, nodeB);
    await control?.close();
    await redis?.close();
    await repo?.remove();
    for (const w of workers) await fs.rm(w.stateDir, { recursive: true, force: true });
  });

  it('fails the moved app’s waiting job with the redeploy to follow, deletes without the node, and the node cleans up when back', async () => {
    const workerB = await spawnWorker(cluster, { id: nodeB });
    workers.push(workerB);
    await nodeUp(nodeB);
    const [moving, deleted] = [`mv-${hex()}`, `rm-${hex()}`];
    for (const name of [moving, deleted]) {
      const res = await api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' })
        .expect(202);
      const done = await control.waitForJob(res.body.job.id);
      expect(done.state, `${done.error}\n${done.log.join('\n')}\n${workerB.output()}`).to.equal('completed');
    }
    // A database on node B too: only B is up, so it is placed there.
    const [db, gone] = [`db-${hex()}`, `gone-${hex()}`];
    for (const name of [db, gone]) {
      const provisioned = await control.waitForJob(
        (await api().post('/databases').send({ name, engine: 'redis' }).expect(202)).body.job.id,
      );
      expect(provisioned.state, `${provisioned.error}\n${provisioned.log.join('\n')}`).to.equal('completed');
    }
    const goneResources = async () => {
      const label = [`io.gasper.database=${gone}`];
      const [containers, volumes, networks] = await Promise.all([
        docker.listContainers({ all: true, filters: { label } }),
        docker.listVolumes({ filters: { label } }),
        docker.listNetworks({ filters: { label } }),
      ]);
      return containers.length + (volumes.Volumes ?? []).length + networks.length;
    };
    expect(await goneResources()).to.equal(3);
    const appsOnB = async () =>
      (await managedContainers(nodeB)).flatMap((c) => c.Labels[containerLabels.app] ?? []).sort();
    expect(await appsOnB()).to.deep.equal([deleted, moving].sort());
    const workerA = await spawnWorker(cluster, { id: nodeA });
    workers.push(workerA);
    await nodeUp(nodeA);

    // Node B's worker dies; before the API notices, a restart and a deletion are queued there.
    const killed = Date.now();
    workerB.child.kill('SIGKILL');
    await workerB.exited;
    const restart = (await api().post(`/apps/${moving}/restart`).expect(202)).body.job.id as string;
    const deletion = (await del(`/apps/${deleted}`).expect(202)).body.job.id as string;
    const backup = (await api().post(`/databases/${db}/backups`).expect(202)).body.job.id as string;
    const dropGone = (await del(`/databases/${gone}`).expect(202)).body.job.id as string;
    expect((await job(restart)).queue).to.equal(`node-${nodeB}`);
    expect((await job(deletion)).state).to.equal('waiting');

    const failed = await control.waitForJob(restart, 60_000);
    const failoverMs = Date.now() - killed;
    expect(failed.state).to.equal('failed');
    const app = (await api().get(`/apps/${moving}`).expect(200)).body.app;
    expect(failed.error).to.match(
      new RegExp(
        `^node ${nodeB} is down \\(no heartbeat since .*\\); the app was moved to node ${nodeA}: see job ${app.lastJob.id}$`,
      ),
    );
    const redeploy = await control.waitForJob(failed.error!.split('see job ')[1]!);
    expect(redeploy.state, `${redeploy.error}\n${redeploy.log.join('\n')}\n${workerA.output()}`).to.equal('completed');
    expect((await api().get(`/apps/${moving}`).expect(200)).body.app.instances[0].node).to.equal(nodeA);
    expect((await viaProxy(control.proxyPort, `${moving}.localhost:${control.proxyPort}`)).body).to.equal(
      'failover world\n',
    );

    const removed = await control.waitForJob(deletion, 60_000);
    expect(removed.state).to.equal('completed');
    expect((removed.result as { withoutNode: string }).withoutNode).to.match(new RegExp(`^node ${nodeB} is down`));
    await api().get(`/apps/${deleted}`).expect(404);
    // The node is dead, its daemon is not: what it ran is still there until it comes back.
    expect(await appsOnB()).to.deep.equal([deleted, moving].sort());

    // A database deleted meanwhile is deleted without the node; its data goes when the node is back.
    const droppedGone = await control.waitForJob(dropGone, 60_000);
    expect(droppedGone.state).to.equal('completed');
    expect((droppedGone.result as { withoutNode: string }).withoutNode).to.match(/the database was deleted without it/);
    await api().get(`/databases/${gone}`).expect(404);
    expect(await goneResources()).to.equal(3);

    // The database stays on its node: unavailable, its backup job waiting for the node.
    const unavailable = (await api().get(`/databases/${db}`).expect(200)).body.database;
    expect(unavailable).to.deep.include({ status: 'unavailable', node: nodeB });
    expect(unavailable.nodeState).to.include({ state: 'down' });
    const waiting = await job(backup);
    expect(waiting.state).to.equal('waiting');
    expect(waiting.blocked).to.match(/database jobs run on the database's node only/);

    const back = Date.now();
    workers.push(await spawnWorker(cluster, { id: nodeB, stateDir: workerB.stateDir }));
    await nodeUp(nodeB, back - 1000);
    await eventually(
      `node ${nodeB} to hold no container of either app`,
      async () => (await appsOnB()).length === 0,
      60_000,
    );
    await eventually(
      `node ${nodeB} to hold nothing of the deleted database`,
      async () => (await goneResources()) === 0,
      60_000,
    );
    // Back: the backup runs there, the database shows its own status again.
    const backedUp = await control.waitForJob(backup, 60_000);
    expect(backedUp.state, `${backedUp.error}\n${backedUp.log.join('\n')}`).to.equal('completed');
    const recovered = (await api().get(`/databases/${db}`).expect(200)).body.database;
    expect(recovered.status).to.equal('running');
    expect(recovered.nodeState).to.include({ id: nodeB, state: 'up', draining: false, message: null });
    const dropped = await control.waitForJob((await del(`/databases/${db}`).expect(202)).body.job.id);
    expect(dropped.state).to.equal('completed');
    const report = (await api().get(`/nodes/${nodeB}`).expect(200)).body.node.lastReconcile;
    const reasons = (report.recentRemovals as { app: string; reason: string }[]).map((r) => [r.app, r.reason]);
    expect(reasons).to.deep.include([deleted, 'app no longer exists']);
    expect(reasons).to.deep.include([moving, `app moved to node ${nodeA}`]);
    const databaseRemovals = report.recentDatabaseRemovals as { kind: string; database: string; reason: string }[];
    expect(databaseRemovals.map((r) => [r.kind, r.database, r.reason]).sort()).to.deep.equal(
      ['container', 'network', 'volume'].map((kind) => [
        kind,
        gone,
        `database ${gone} was deleted while this node was down`,
      ]),
    );
    console.log(
      `      job failover: restart on the killed node failed ${failoverMs} ms after the kill (node timeout 3000 ms)`,
    );
  });
});
