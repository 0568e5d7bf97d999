import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { expect } from 'chai';
import type { EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { managedContainers, removeNodeContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import { eventually, newSecretKey, spawnWorker, startControlPlane, type ClusterEnv, type ControlPlane, type GasperProcess } from '../support/node-processes.ts';
import { viaProxy } from '../support/platform.ts';
import { startTestRedis } from '../support/redis.ts';
import { startSecondDocker, type SecondDocker } from '../support/second-docker.ts';

/**
 * Two nodes, each a `gasper worker` process with a Docker daemon of its own (the machine's, and
 * a second dockerd with its own data root, socket and bridge), one Redis, API and proxy in this
 * process. Apps spread over both; a drain moves them with no failed request; a node whose worker
 * is killed and daemon stopped has its apps started on the other within the configured time.
 */
describe('two nodes, two Docker daemons (Docker, Redis, processes)', function () {
  this.timeout(300_000);
  const hex = () => crypto.randomBytes(3).toString('hex');
  const [nodeA, nodeB] = [`t-a-${hex()}`, `t-b-${hex()}`];
  let second: SecondDocker;
  let redis: EmbeddedRedisHandle;
  let cluster: ClusterEnv;
  let control: ControlPlane;
  let repo: GitFixture;
  let workerA: GasperProcess & { stateDir: string };
  let workerB: GasperProcess & { stateDir: string };
  const apps: string[] = [];
  const host = (app: string) => `${app}.localhost:${control.proxyPort}`;
  const doc = async (name: string) => (await control.api().get(`/apps/${name}`).expect(200)).body.app;
  const nodeOf = async (name: string) => (await control.api().get('/nodes').expect(200)).body.nodes.find((n: { apps: string[] }) => n.apps.includes(name))?.id as string;

  before(async function () {
    this.timeout(240_000);
    await requireDocker();
    second = await startSecondDocker(['gasper/node:latest']);
    redis = await startTestRedis();
    cluster = { redisUrl: redis.url, secretKey: newSecretKey() };
    control = await startControlPlane(cluster);
    repo = await createGitRepo(helloNodeApp('spread'));
    workerA = await spawnWorker(cluster, { id: nodeA });
    workerB = await spawnWorker(cluster, { id: nodeB, dockerHost: second.host });
    await eventually('both nodes up', async () => {
      const nodes = (await control.api().get('/nodes').expect(200)).body.nodes as { id: string; state: string }[];
      return nodes.filter((n) => n.state === 'up').length === 2;
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\nworker A: ${workerA.output()}\nworker B: ${workerB.output()}`);
    });
  });
  after(async function () {
    this.timeout(120_000);
    await workerA?.stop();
    await workerB?.stop('SIGKILL');
    await removeNodeContainers(nodeA);
    await control?.close();
    await second?.close();
    await redis?.close();
    await repo?.remove();
    for (const w of [workerA, workerB]) if (w) await fs.rm(w.stateDir, { recursive: true, force: true });
  });

  it('spreads apps over both nodes and serves each through the proxy', async () => {
    const created = [];
    for (let i = 0; i < 4; i++) {
      const name = `two-${hex()}`;
      apps.push(name);
      const res = await control.api().post('/apps').send({ name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js', env: { GREETING: name } }).expect(202);
      created.push(res.body.job.id as string);
    }
    for (const id of created) {
      const job = await control.waitForJob(id);
      expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
    }
    const placed = await Promise.all(apps.map(nodeOf));
    expect(placed.filter((n) => n === nodeA)).to.have.length(2);
    expect(placed.filter((n) => n === nodeB)).to.have.length(2);
    for (const name of apps) {
      const reply = await viaProxy(control.proxyPort, host(name));
      expect(reply.status, name).to.equal(200);
      expect(reply.body).to.equal(`spread ${name}\n`);
      const d = await doc(name);
      // Each instance lives in its node's daemon: the second daemon holds node B's.
      const where = d.instances[0].node === nodeB ? await second.docker.listContainers() : await managedContainers(nodeA, name);
      expect(where.map((c) => c.Names[0])).to.include(`/gasper-${name}-${d.release}-0`);
    }
  });

  it('drain moves the apps of a node to the other with no failed request, and undrain places there again', async () => {
    const onA: string[] = [];
    for (const name of apps) if ((await nodeOf(name)) === nodeA) onA.push(name);
    expect(onA).to.have.length(2);
    let requests = 0;
    const failures: string[] = [];
    let loading = true;
    const load = (async () => {
      while (loading) {
        for (const name of onA) {
          requests++;
          const reply = await viaProxy(control.proxyPort, host(name)).catch((err: Error) => ({ status: 0, body: err.message }));
          if (reply.status !== 200) failures.push(`${name}: ${reply.status} ${reply.body}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const started = Date.now();
    const drained = await control.api().post(`/nodes/${nodeA}/drain`).expect(202);
    expect(drained.body.moved.map((m: { app: string; to: string }) => [m.app, m.to]).sort()).to.deep.equal(onA.map((a) => [a, nodeB]).sort());
    for (const m of drained.body.moved) {
      const job = await control.waitForJob(m.job);
      expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
    }
    // The old containers go once the proxy follows the switch (reconciliation on node A).
    await eventually('node A to hold no container of the moved apps', async () => (await managedContainers(nodeA)).length === 0, 30_000);
    loading = false;
    await load;
    const moveMs = Date.now() - started;
    expect(failures, `${failures.length} of ${requests} requests failed`).to.deep.equal([]);
    expect(requests).to.be.greaterThan(20);
    for (const name of onA) {
      expect((await doc(name)).instances[0].node).to.equal(nodeB);
      expect((await viaProxy(control.proxyPort, host(name))).body).to.equal(`spread ${name}\n`);
    }
    console.log(`      drain: ${onA.length} apps moved in ${moveMs} ms, ${requests} requests, 0 failed`);

    await control.api().post(`/nodes/${nodeA}/undrain`).expect(200);
    const nodes = (await control.api().get('/nodes').expect(200)).body.nodes;
    expect(nodes.find((n: { id: string }) => n.id === nodeA)).to.include({ draining: false, state: 'up' });
  });

  it("brings a dead node's apps back on the other node within the configured time", async () => {
    const onB: string[] = [];
    for (const name of apps) if ((await nodeOf(name)) === nodeB) onB.push(name);
    expect(onB.length).to.be.greaterThan(0);
    const killed = Date.now();
    workerB.child.kill('SIGKILL');
    await workerB.exited;
    await second.stop();
    await eventually(`every app of ${nodeB} served from ${nodeA}`, async () => {
      for (const name of onB) {
        const d = await doc(name);
        if (d.status !== 'running' || d.instances[0]?.node !== nodeA) return false;
        const reply = await viaProxy(control.proxyPort, host(name));
        if (reply.status !== 200 || reply.body !== `spread ${name}\n`) return false;
      }
      return true;
    }, 90_000);
    const backMs = Date.now() - killed;
    const nodes = (await control.api().get('/nodes').expect(200)).body.nodes;
    expect(nodes.find((n: { id: string }) => n.id === nodeB).state).to.equal('down');
    // Node timeout 3 s, a check per second, then a deploy (clone, start, health): well under a minute here.
    expect(backMs).to.be.below(60_000);
    console.log(`      failover: ${onB.length} apps back on ${nodeA} ${backMs} ms after the kill (node timeout 3000 ms)`);
  });
});
