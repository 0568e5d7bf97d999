import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { expect } from 'chai';
import pg from 'pg';
import { Redis } from 'ioredis';
import { scopeLabels } from '../../src/core/installation.ts';
import { databaseLabel } from '../../src/core/database-naming.ts';
import { keys } from '../../src/core/keys.ts';
import { containerLabels } from '../../src/core/naming.ts';
import { requireDatabaseImages } from '../support/databases.ts';
import {
  databaseContainer,
  docker,
  managedContainers,
  removeNodeContainers,
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
import type { EmbeddedRedisHandle } from '../../src/core/redis.ts';

/**
 * A worker process killed with SIGKILL in the middle of a deploy's build: another worker for the
 * same node takes the stalled job (BullMQ), which ends completed or failed with a reason, and the
 * node's reconciliation leaves no orphan container; a database serves on through a worker killed
 * and restarted, untouched. API and proxy run in this process, workers as `gasper worker`
 * processes.
 */
describe('worker crash mid-deploy (Docker, Redis, processes)', function () {
  this.timeout(240_000);
  let redis: EmbeddedRedisHandle;
  let cluster: ClusterEnv;
  let control: ControlPlane;
  let repo: GitFixture;
  const workers: GasperProcess[] = [];
  const nodeId = `t-crash-${crypto.randomBytes(3).toString('hex')}`;
  const stateDirs: string[] = [];

  before(async () => {
    await requireDocker();
    await requireDatabaseImages(['postgres']);
    redis = await startTestRedis();
    cluster = { redisUrl: redis.url, secretKey: newSecretKey() };
    control = await startControlPlane(cluster);
    repo = await createGitRepo(helloNodeApp('survived'));
  });
  after(async () => {
    for (const w of workers) await w.stop('SIGKILL');
    await removeNodeContainers(nodeId);
    await control?.close();
    await redis?.close();
    await repo?.remove();
    for (const dir of stateDirs) await fs.rm(dir, { recursive: true, force: true });
  });

  async function startWorker() {
    const worker = await spawnWorker(cluster, { id: nodeId, stateDir: stateDirs[0] });
    if (!stateDirs.includes(worker.stateDir)) stateDirs.push(worker.stateDir);
    workers.push(worker);
    await eventually(`node ${nodeId} registered (worker output: ${worker.output()})`, async () => {
      const nodes = (await control.api().get('/nodes').expect(200)).body.nodes as {
        id: string;
        state: string;
        startedAt: string;
      }[];
      return nodes.find((n) => n.id === nodeId && n.state === 'up' && Date.parse(n.startedAt) > Date.now() - 60_000);
    });
    return worker;
  }

  it('recovers the job of a worker killed during the build, with no orphan container', async () => {
    const first = await startWorker();
    const name = `crash-${crypto.randomBytes(3).toString('hex')}`;
    const created = await control
      .api()
      .post('/apps')
      .send({
        name,
        repo: { url: repo.url },
        runtime: 'node',
        build: ['sleep 6'],
        run: 'node server.js',
      })
      .expect(202);
    const jobId = created.body.job.id as string;
    await eventually(
      'the build to start',
      async () => {
        const job = (await control.api().get(`/jobs/${jobId}`).expect(200)).body.job;
        const builds = (await managedContainers(nodeId, name)).filter(
          (c) => c.Labels[containerLabels.role] === 'build',
        );
        return job.progress.step.startsWith('building') && builds.length === 1;
      },
      120_000,
    );

    first.child.kill('SIGKILL');
    await first.exited;
    await startWorker();

    const job = await control.waitForJob(jobId, 180_000);
    if (process.env.GASPER_TEST_VERBOSE) console.log(job.state, job.error, job.log.join('\n'));
    if (job.state === 'failed') expect(job.error, 'a failed job says why').to.be.a('string').and.not.equal('');
    else expect(job.state, job.log.join('\n')).to.equal('completed');
    // The job ran twice: the killed worker's run, then the run of the worker that took it back.
    expect(
      job.log.filter((l) => l.includes('cloning repository and preparing container')),
      job.log.join('\n'),
    ).to.have.length(2);

    const app = (await control.api().get(`/apps/${name}`).expect(200)).body.app;
    const expected = job.state === 'completed' ? [`gasper-${name}-${app.release}-0`] : [];
    const names = await eventually(
      'only the current release container to remain',
      async () => {
        const now = (await managedContainers(nodeId))
          .map((c) => withoutInstallation(c.Names[0]!.replace(/^\//, '')))
          .sort();
        return JSON.stringify(now) === JSON.stringify(expected) ? now : undefined;
      },
      30_000,
    );
    expect(names).to.deep.equal(expected);
    if (job.state === 'completed') {
      expect(app.status).to.equal('running');
      const reply = await viaProxy(control.proxyPort, `${name}.localhost:${control.proxyPort}`);
      expect(reply.status).to.equal(200);
      expect(reply.body).to.equal('survived world\n');
    }
  });

  it("removes an orphan container (an app that no longer exists) and reports it in the node's last reconciliation", async () => {
    if (workers.every((w) => w.child.exitCode !== null || w.child.signalCode !== null)) await startWorker();
    // The orphan carries this installation's id, as a container of a deleted app would: a worker
    // never removes what another installation (or nobody) labelled.
    const client = new Redis(redis.url);
    const installation = (await client.get(keys.installation).finally(() => client.disconnect()))!;
    const app = `ghost-${crypto.randomBytes(3).toString('hex')}`;
    const orphan = `gasper-${installation}-${app}-r000001-0`;
    const image = (await docker.listImages({ filters: { reference: ['gasper/node:latest'] } })).length
      ? 'gasper/node:latest'
      : 'gasper/base:bookworm';
    await docker.createContainer({
      name: orphan,
      Image: image,
      Cmd: ['sleep', '300'],
      Labels: {
        ...scopeLabels({ installation, node: nodeId }),
        [containerLabels.app]: app,
        [containerLabels.release]: 'r000001',
        [containerLabels.role]: 'app',
      },
    });
    await eventually(
      'the orphan to be removed',
      async () => !(await managedContainers(nodeId)).some((c) => c.Names[0] === `/${orphan}`),
      30_000,
    );
    // The node records its reconciliation after the removal: read it until it is there.
    const removal = await eventually('the removal in the node report', async () => {
      const node = (await control.api().get(`/nodes/${nodeId}`).expect(200)).body.node;
      return node.lastReconcile?.recentRemovals?.find((r: { container: string }) => r.container === orphan);
    });
    expect(removal).to.include({ reason: 'app no longer exists', release: 'r000001' });
  });

  it('a database serves on while its worker is dead, and keeps its container and data when a worker comes back', async () => {
    if (workers.every((w) => w.child.exitCode !== null || w.child.signalCode !== null)) await startWorker();
    const name = `keep-${crypto.randomBytes(3).toString('hex')}`;
    const created = await control.api().post('/databases').send({ name, engine: 'postgres' }).expect(202);
    const provisioned = await control.waitForJob(created.body.job.id, 180_000);
    expect(provisioned.state, `${provisioned.error}\n${provisioned.log.join('\n')}`).to.equal('completed');
    const query = async (sql: string) => {
      const client = new pg.Client({ connectionString: created.body.credentials.url as string });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    };
    await query("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')");
    const before = await (await databaseContainer(name)).inspect();

    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    expect(await query('SELECT body FROM notes')).to.deep.equal([{ body: 'kept' }]);

    await startWorker();
    // While no worker heartbeats, the API reports the database unavailable; the new worker's
    // database monitor reports it running again, without touching its container.
    await eventually(
      'the database reported running again',
      async () => (await control.api().get(`/databases/${name}`).expect(200)).body.database.status === 'running',
      30_000,
    );
    expect(await query('SELECT body FROM notes')).to.deep.equal([{ body: 'kept' }]);
    const after = await (await databaseContainer(name)).inspect();
    expect({ id: after.Id, startedAt: after.State.StartedAt }).to.deep.equal({
      id: before.Id,
      startedAt: before.State.StartedAt,
    });

    const removed = await control.api().delete(`/databases/${name}`).expect(202);
    const job = await control.waitForJob(removed.body.job.id);
    expect(job.state).to.equal('completed');
    // The worker that came back deletes what the killed one created: container, volume, network.
    // Should the API still count the node down when the job is queued, the failover completes it
    // without the node (result.withoutNode) and the node's reconciliation removes the rest.
    const volumesLeft = async () =>
      ((await docker.listVolumes({ filters: { label: [`${databaseLabel}=${name}`] } })).Volumes ?? []).map(
        (v) => v.Name,
      );
    const networksLeft = async () =>
      (await docker.listNetworks({ filters: { label: [`${databaseLabel}=${name}`] } })).map((n) => n.Name);
    await eventually(
      `the volume and network removed (delete job: ${JSON.stringify({ result: job.result, log: job.log })})`,
      async () => (await volumesLeft()).length === 0 && (await networksLeft()).length === 0,
      30_000,
    );
  });
});
