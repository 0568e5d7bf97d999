import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { expect } from 'chai';
import type { EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { docker, removeNodeContainers, removeNodeFirewall, requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
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

/**
 * A Dockerfile app with an instance on each of two nodes (each a `gasper worker` with a Docker
 * daemon of its own): each node builds the commit the primary cloned (there is no registry to
 * share the image through), both instances serve through the proxy, and deleting the app removes
 * the image on both daemons.
 */
describe('a Dockerfile app on two nodes (Docker, Redis, processes)', function () {
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
  const imagesOn = (d: typeof docker, app: string) =>
    d.listImages({ filters: JSON.stringify({ label: [`io.gasper.app=${app}`] }) });

  before(async function () {
    this.timeout(240_000);
    await requireDocker();
    // The base image too, as on every node: a Dockerfile build's pids holder runs it (build-pids.ts).
    second = await startSecondDocker(['gasper/node:latest', 'gasper/base:bookworm']);
    redis = await startTestRedis();
    cluster = { redisUrl: redis.url, secretKey: newSecretKey() };
    control = await startControlPlane(cluster);
    repo = await createGitRepo({
      Dockerfile: 'FROM gasper/node:latest\nWORKDIR /srv\nCOPY server.js .\nEXPOSE 3000\nCMD ["node", "server.js"]\n',
      'server.js':
        "require('http').createServer((req, res) => res.end('built ' + require('os').hostname())).listen(process.env.PORT);\n",
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
    );
  });
  after(async function () {
    this.timeout(120_000);
    await workerA?.stop();
    await workerB?.stop();
    await removeNodeContainers(nodeA);
    await removeNodeFirewall(nodeB);
    await control?.close();
    await second?.close();
    await redis?.close();
    await repo?.remove();
    for (const w of [workerA, workerB]) if (w) await fs.rm(w.stateDir, { recursive: true, force: true });
  });

  it('each node builds the same commit; both instances serve; delete removes both images', async () => {
    const name = `dfw-${hex()}`;
    const res = await control
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url }, instances: 2 })
      .expect(202);
    const primary = await control.waitForJob(res.body.job.id, 240_000);
    expect(primary.state, `${primary.error}\n${primary.log.join('\n')}`).to.equal('completed');
    const d = (await control.api().get(`/apps/${name}`).expect(200)).body.app;
    expect([...d.placement].sort()).to.deep.equal([nodeA, nodeB].sort());
    const other = d.node === nodeA ? nodeB : nodeA;
    const part = await control.waitForJob(`${res.body.job.id}-on-${other}`, 240_000);
    expect(part.state, `${part.error}\n${part.log.join('\n')}`).to.equal('completed');
    const commit = d.commit.slice(0, 12);
    for (const job of [primary, part]) {
      const log = job.log.join('\n');
      expect(log).to.include(`at ${commit}`).and.include('builder: dockerfile');
      expect(log).to.match(/Step \d+\/\d+ : COPY server.js/);
    }
    expect(await imagesOn(docker, name)).to.have.length(1);
    expect(await imagesOn(second.docker, name)).to.have.length(1);

    const hosts = new Set<string>();
    for (let i = 0; i < 20 && hosts.size < 2; i++) {
      const reply = await viaProxy(control.proxyPort, `${name}.localhost:${control.proxyPort}`);
      expect(reply.status).to.equal(200);
      hosts.add(reply.body);
    }
    expect(hosts.size).to.equal(2);

    const del = await control.api().delete(`/apps/${name}`).expect(202);
    expect((await control.waitForJob(del.body.job.id)).state).to.equal('completed');
    await eventually(
      'images removed on both nodes',
      async () => {
        return (await imagesOn(docker, name)).length === 0 && (await imagesOn(second.docker, name)).length === 0;
      },
      60_000,
    );
  });
});
