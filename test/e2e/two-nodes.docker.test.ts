import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { expect } from 'chai';
import type { EmbeddedRedisHandle } from '../../src/core/redis.ts';
import {
  managedContainers,
  removeNodeContainers,
  removeNodeFirewall,
  requireDocker,
  withoutInstallation,
} from '../support/docker.ts';
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
import { startSecondDocker, type SecondDocker } from '../support/second-docker.ts';
import { runtimeImage } from '../../src/core/runtimes.ts';

/**
 * Two nodes, each a `gasper worker` process with a Docker daemon of its own (the machine's, and
 * a second dockerd with its own data root, socket and bridge), one Redis, API and proxy in this
 * process. Apps spread over both, and so do the two instances of one app; a drain moves them with
 * no failed request; a node whose worker is killed and daemon stopped has its apps started on the
 * other within the configured time.
 */

/** Container names hold the installation id (`gasper-<installation>-<app>-…`): compared without it. */
describe('two nodes, two Docker daemons (Docker, Redis, processes)', function () {
  this.timeout(300_000);
  const hex = () => crypto.randomBytes(3).toString('hex');
  const [nodeA, nodeB] = [`t-a-${hex()}`, `t-b-${hex()}`];
  let second: SecondDocker;
  let redis: EmbeddedRedisHandle;
  let cluster: ClusterEnv;
  let control: ControlPlane;
  let repo: GitFixture;
  /** An app that answers with its container's host name, so a test sees which instance answered. */
  let whoRepo: GitFixture;
  let workerA: GasperProcess & { stateDir: string };
  let workerB: GasperProcess & { stateDir: string };
  const apps: string[] = [];
  /** Apps whose instances are spread over both nodes: the drain and the failover move them too. */
  const spread: string[] = [];
  const spreadOver = async (name: string, nodes: string[]) => {
    const d = await doc(name);
    return (
      d.status === 'running' &&
      d.instances.length === 2 &&
      d.instances.every((i: { node: string }, k: number) => i.node === nodes[k])
    );
  };
  const host = (app: string) => `${app}.localhost:${control.proxyPort}`;
  const doc = async (name: string) => (await control.api().get(`/apps/${name}`).expect(200)).body.app;
  const nodeOf = async (name: string) =>
    (await control.api().get('/nodes').expect(200)).body.nodes.find((n: { apps: string[] }) => n.apps.includes(name))
      ?.id as string;

  before(async function () {
    this.timeout(240_000);
    await requireDocker();
    // The image a node app with no version asked gets (gasper/node:<default major>).
    second = await startSecondDocker([runtimeImage('node', { imagePrefix: 'gasper', runtimeImages: {} })]);
    redis = await startTestRedis();
    cluster = { redisUrl: redis.url, secretKey: newSecretKey() };
    control = await startControlPlane(cluster);
    repo = await createGitRepo(helloNodeApp('spread'));
    whoRepo = await createGitRepo({
      'server.js':
        "require('http').createServer((req, res) => res.end(require('os').hostname())).listen(process.env.PORT);\n",
    });
    workerA = await spawnWorker(cluster, { id: nodeA });
    workerB = await spawnWorker(cluster, { id: nodeB, dockerHost: second.host });
    await eventually(
      'both nodes up',
      async () => {
        const nodes = (await control.api().get('/nodes').expect(200)).body.nodes as { id: string; state: string }[];
        return nodes.filter((n) => n.state === 'up').length === 2;
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nworker A: ${workerA.output()}\nworker B: ${workerB.output()}`);
    });
  });
  after(async function () {
    this.timeout(120_000);
    await workerA?.stop();
    await workerB?.stop('SIGKILL');
    await removeNodeContainers(nodeA);
    // Node B's containers went with its daemon; its worker, killed, left its firewall chains.
    await removeNodeFirewall(nodeB);
    await control?.close();
    await second?.close();
    await redis?.close();
    await repo?.remove();
    await whoRepo?.remove();
    for (const w of [workerA, workerB]) if (w) await fs.rm(w.stateDir, { recursive: true, force: true });
  });

  it('spreads apps over both nodes and serves each through the proxy', async () => {
    const created = [];
    for (let i = 0; i < 4; i++) {
      const name = `two-${hex()}`;
      apps.push(name);
      const res = await control
        .api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js', env: { GREETING: name } })
        .expect(202);
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
      const where =
        d.instances[0].node === nodeB ? await second.docker.listContainers() : await managedContainers(nodeA, name);
      expect(where.map((c) => withoutInstallation(c.Names[0]!))).to.include(`/gasper-${name}-${d.release}-0`);
    }
  });

  it("spreads one app's instances over both nodes: one switch when both are healthy, the proxy reaches both; restart and delete act on both", async () => {
    const name = `wide-${hex()}`;
    const res = await control
      .api()
      .post('/apps')
      .send({ name, repo: { url: whoRepo.url }, runtime: 'node', run: 'node server.js', instances: 2 })
      .expect(202);
    const primaryJob = await control.waitForJob(res.body.job.id);
    expect(primaryJob.state, `${primaryJob.error}\n${primaryJob.log.join('\n')}`).to.equal('completed');
    const d = await doc(name);
    const other = d.node === nodeA ? nodeB : nodeA;
    expect([...d.placement].sort()).to.deep.equal([nodeA, nodeB].sort());
    const part = await control.waitForJob(`${res.body.job.id}-on-${other}`);
    expect(part.state, `${part.error}\n${part.log.join('\n')}`).to.equal('completed');
    expect(d.instances.map((i: { node: string }) => i.node)).to.deep.equal(d.placement);
    // Slots are the placement's indices: container names are unique over the cluster.
    expect(d.instances.map((i: { container: string }) => withoutInstallation(i.container))).to.deep.equal([
      `gasper-${name}-r000001-0`,
      `gasper-${name}-r000001-1`,
    ]);
    expect((await second.docker.listContainers()).map((c) => withoutInstallation(c.Names[0]!))).to.include(
      `/gasper-${name}-r000001-${d.placement.indexOf(nodeB)}`,
    );

    const answering = async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const reply = await viaProxy(control.proxyPort, host(name));
        expect(reply.status).to.equal(200);
        seen.add(reply.body);
      }
      return seen;
    };
    expect((await answering()).size, 'distinct instances answering through the proxy').to.equal(2);

    const restart = await control.api().post(`/apps/${name}/restart`).expect(202);
    const restarted = await control.waitForJob(restart.body.job.id);
    expect(restarted.state, `${restarted.error}\n${restarted.log.join('\n')}`).to.equal('completed');
    const after = await doc(name);
    expect(after.instances.map((i: { node: string }) => i.node)).to.deep.equal(d.placement);
    // The next round of slots: 2 and 3, beside the serving 0 and 1 until the switch.
    expect(after.instances.map((i: { container: string }) => withoutInstallation(i.container))).to.deep.equal([
      `gasper-${name}-r000001-2`,
      `gasper-${name}-r000001-3`,
    ]);
    expect((await answering()).size).to.equal(2);

    const removed = await control.api().delete(`/apps/${name}`).expect(202);
    const deleted = await control.waitForJob(removed.body.job.id);
    expect(deleted.state, `${deleted.error}\n${deleted.log.join('\n')}`).to.equal('completed');
    await eventually(
      'no container of the app on either daemon',
      async () => {
        const onB = (await second.docker.listContainers({ all: true })).filter((c) =>
          withoutInstallation(c.Names[0] ?? '').startsWith(`/gasper-${name}-`),
        );
        return onB.length === 0 && (await managedContainers(nodeA, name)).length === 0;
      },
      30_000,
    );
    await control.api().get(`/apps/${name}`).expect(404);

    // Another, kept: the drain and the failover below move it with the single-instance apps.
    const kept = `wide-${hex()}`;
    const created = await control
      .api()
      .post('/apps')
      .send({ name: kept, repo: { url: whoRepo.url }, runtime: 'node', run: 'node server.js', instances: 2 })
      .expect(202);
    expect((await control.waitForJob(created.body.job.id)).state).to.equal('completed');
    expect(new Set((await doc(kept)).instances.map((i: { node: string }) => i.node)).size).to.equal(2);
    spread.push(kept);
  });

  it('drain moves the apps of a node to the other with no failed request, and undrain places there again', async () => {
    const onA: string[] = [];
    for (const name of apps) if ((await nodeOf(name)) === nodeA) onA.push(name);
    expect(onA).to.have.length(2);
    onA.push(...spread);
    let requests = 0;
    const failures: string[] = [];
    let loading = true;
    const load = (async () => {
      while (loading) {
        for (const name of onA) {
          requests++;
          const reply = await viaProxy(control.proxyPort, host(name)).catch((err: Error) => ({
            status: 0,
            body: err.message,
          }));
          if (reply.status !== 200) failures.push(`${name}: ${reply.status} ${reply.body}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const started = Date.now();
    const drained = await control.api().post(`/nodes/${nodeA}/drain`).expect(202);
    expect(drained.body.moved.map((m: { app: string; to: string }) => [m.app, m.to]).sort()).to.deep.equal(
      onA.map((a) => [a, nodeB]).sort(),
    );
    for (const m of drained.body.moved) {
      const job = await control.waitForJob(m.job);
      expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
    }
    // The old containers go once the proxy follows the switch (reconciliation on node A).
    await eventually(
      'node A to hold no container of the moved apps',
      async () => (await managedContainers(nodeA)).length === 0,
      30_000,
    );
    loading = false;
    await load;
    const moveMs = Date.now() - started;
    expect(failures, `${failures.length} of ${requests} requests failed`).to.deep.equal([]);
    expect(requests).to.be.greaterThan(20);
    for (const name of onA) {
      const d = await doc(name);
      expect(d.instances.map((i: { node: string }) => i.node)).to.deep.equal(d.instances.map(() => nodeB));
      if (!spread.includes(name))
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
    for (const name of spread)
      expect(await spreadOver(name, [nodeB, nodeB]), `${name} on ${nodeB} after the drain`).to.equal(true);
    const killed = Date.now();
    workerB.child.kill('SIGKILL');
    await workerB.exited;
    await second.stop();
    await eventually(
      `every app of ${nodeB} served from ${nodeA}`,
      async () => {
        for (const name of onB) {
          const d = await doc(name);
          if (d.status !== 'running' || d.instances[0]?.node !== nodeA) return false;
          const reply = await viaProxy(control.proxyPort, host(name));
          if (reply.status !== 200 || reply.body !== `spread ${name}\n`) return false;
        }
        for (const name of spread) {
          if (!(await spreadOver(name, [nodeA, nodeA]))) return false;
          if ((await viaProxy(control.proxyPort, host(name))).status !== 200) return false;
        }
        return true;
      },
      90_000,
    );
    const backMs = Date.now() - killed;
    const nodes = (await control.api().get('/nodes').expect(200)).body.nodes;
    expect(nodes.find((n: { id: string }) => n.id === nodeB).state).to.equal('down');
    // Node timeout 3 s, a check per second, then a deploy (clone, start, health): well under a minute here.
    expect(backMs).to.be.below(60_000);
    console.log(
      `      failover: ${onB.length + spread.length} apps back on ${nodeA} ${backMs} ms after the kill (node timeout 3000 ms)`,
    );
  });
});
