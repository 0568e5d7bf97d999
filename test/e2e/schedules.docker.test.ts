import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { bullPrefix } from '../../src/core/keys.ts';
import { runAppJob } from '../../src/jobs/schemas.ts';
import { schedulesQueueName } from '../../src/jobs/schedule-jobs.ts';
import type { EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { removeNodeContainers, requireDocker } from '../support/docker.ts';
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
import { startTestRedis } from '../support/redis.ts';

interface RunView {
  job: { id: string };
  state: string;
  exitCode: number | null;
  durationMs: number | null;
  output: string[];
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/**
 * Scheduled runs with two `gasper worker` processes (two nodes on one Docker daemon), one Redis,
 * the API in this process: each tick runs the command once in the cluster, on the app's node;
 * ticks go on while that node's worker is down (the other takes them; overlap skip keeps one run
 * waiting), and its runs resume when it is back; runs are listed with output and exit code.
 */
describe('scheduled runs over two nodes (Docker, Redis, processes)', function () {
  this.timeout(300_000);
  const hex = () => crypto.randomBytes(3).toString('hex');
  const [nodeA, nodeB] = [`t-sa-${hex()}`, `t-sb-${hex()}`];
  let redis: EmbeddedRedisHandle;
  let cluster: ClusterEnv;
  let control: ControlPlane;
  let repo: GitFixture;
  const workers: Record<string, GasperProcess & { stateDir: string }> = {};
  const app = `sched-${hex()}`;
  const api = () => control.api();

  const nodeUp = (id: string, up = true) =>
    eventually(
      `node ${id} ${up ? 'up' : 'down'}`,
      async () => {
        const nodes = (await api().get('/nodes').expect(200)).body.nodes as { id: string; state: string }[];
        return nodes.some((n) => n.id === id && n.state === 'up') === up;
      },
      60_000,
    );

  before(async function () {
    this.timeout(180_000);
    await requireDocker();
    redis = await startTestRedis();
    cluster = { redisUrl: redis.url, secretKey: newSecretKey() };
    control = await startControlPlane(cluster);
    repo = await createGitRepo(helloNodeApp('scheduled'));
    workers[nodeA] = await spawnWorker(cluster, { id: nodeA });
    workers[nodeB] = await spawnWorker(cluster, { id: nodeB });
    await nodeUp(nodeA);
    await nodeUp(nodeB);
  });
  after(async function () {
    this.timeout(60_000);
    for (const w of Object.values(workers)) await w.stop();
    await removeNodeContainers(nodeA, nodeB);
    await control?.close();
    await redis?.close();
    await repo?.remove();
    for (const w of Object.values(workers)) await fs.rm(w.stateDir, { recursive: true, force: true });
  });

  const runs = async (id: string) =>
    (await api().get(`/apps/${app}/schedules/${id}/runs`).expect(200)).body.runs as RunView[];
  const tickOf = (run: RunView) => Number(run.job.id.split('-').at(-1));

  it('rejects a bad schedule, time zone or overlap with 400 naming the field', async () => {
    const created = await api()
      .post('/apps')
      .send({ name: app, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' })
      .expect(202);
    const done = await control.waitForJob(created.body.job.id);
    expect(done.state, `${done.error}\n${done.log.join('\n')}`).to.equal('completed');
    const post = (body: Record<string, unknown>) => api().post(`/apps/${app}/schedules`).send(body).expect(400);
    expect((await post({ command: 'true', schedule: '61 * * * *' })).body.fields).to.have.keys('schedule');
    expect((await post({ command: 'true', schedule: '* * *' })).body.fields).to.have.keys('schedule');
    expect((await post({ command: 'true', schedule: '* * * * *', timezone: 'Mars/Base' })).body.fields).to.have.keys(
      'timezone',
    );
    expect((await post({ command: 'true', schedule: '* * * * *', overlap: 'queue' })).body.fields).to.have.keys(
      'overlap',
    );
    expect((await post({ schedule: '* * * * *' })).body.fields).to.have.keys('command');
  });

  it("runs once per tick on the app's node, goes on through a restart of that node's worker, and lists its runs", async () => {
    const home = (await api().get(`/apps/${app}`).expect(200)).body.app.node as string;
    const created = await api()
      .post(`/apps/${app}/schedules`)
      .send({ command: 'echo tick; exit 5', schedule: '*/2 * * * * *', timezone: 'Europe/Paris' })
      .expect(201);
    const { id } = created.body.schedule;
    expect(created.body.schedule).to.include({ overlap: 'skip', timezone: 'Europe/Paris', schedule: '*/2 * * * * *' });
    const listed = (await api().get(`/apps/${app}/schedules`).expect(200)).body.schedules;
    expect(listed.map((s: { id: string }) => s.id)).to.deep.equal([id]);
    expect(Date.parse(listed[0].nextRunAt)).to.be.greaterThan(Date.now() - 1000);

    const finished = async () => (await runs(id)).filter((r) => r.state === 'completed');
    // A run takes a few seconds (a container made, started, removed): ticks meanwhile are skipped.
    await eventually('two finished runs', async () => (await finished()).length >= 2, 120_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${workers[home]!.output()}`);
    });
    for (const run of await finished()) {
      expect(run.exitCode).to.equal(5);
      expect(run.output).to.deep.equal(['tick']);
      expect(run.durationMs).to.be.a('number');
      expect(Date.parse(run.finishedAt!)).to.be.at.least(Date.parse(run.startedAt!));
    }

    // The app's node's worker stops: ticks go on (node B's worker takes them). Once the API counts
    // the node down it moves the app to node B, the run waiting on the silent node fails naming
    // the move, and the next ticks run on node B: runs go on through the stop, once per tick.
    await workers[home]!.stop();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 7000));
    const restartedAt = Date.now();
    workers[home] = await spawnWorker(cluster, { id: home, stateDir: workers[home]!.stateDir });
    await eventually(
      'a run after the restart',
      async () => (await finished()).some((r) => Date.parse(r.queuedAt) > restartedAt),
      120_000,
    );
    const all = await runs(id);
    const whileDown = all.filter((r) => tickOf(r) > stoppedAt && tickOf(r) < restartedAt);
    const ticksWhileDown = whileDown.map(tickOf);
    expect(new Set(ticksWhileDown).size, JSON.stringify(all, null, 1)).to.equal(ticksWhileDown.length);
    expect(new Set(all.map(tickOf)).size, 'one run per tick').to.equal(all.length);
    const ticksQueue = new Queue(schedulesQueueName, { connection: { url: redis.url }, prefix: bullPrefix });
    try {
      const handled = (await ticksQueue.getJobs(['completed'])).filter(
        (j) => j.data.schedule === id && j.finishedOn! > stoppedAt && j.finishedOn! < restartedAt,
      );
      expect(handled.length, 'ticks handled by the other node while this one was down').to.be.at.least(2);
    } finally {
      await ticksQueue.close();
    }
    for (const run of all) {
      expect(run.state).to.be.oneOf(['completed', 'active', 'waiting', 'failed']);
      // Failed: only the run left on the silent node when the app moved, saying where it is now.
      if (run.state === 'failed')
        expect((await api().get(`/jobs/${run.job.id}`).expect(200)).body.job.error).to.match(
          /primary node is now|now runs on node/,
        );
    }
    expect(all.filter((r) => r.state === 'failed').length, 'failed runs').to.be.at.most(1);

    // Once per tick: every run is a distinct tick, two seconds apart.
    const ticks = all.map(tickOf);
    expect(new Set(ticks).size).to.equal(ticks.length);
    for (const t of ticks) expect(t % 2000).to.equal(0);
    // Each listed run is its own job, readable like a deploy's.
    for (const run of all.filter((r) => r.state === 'completed')) {
      const job = (await api().get(`/jobs/${run.job.id}`).expect(200)).body.job;
      expect(job).to.include({ type: runAppJob.name, state: 'completed' });
      expect(job.log).to.deep.equal(['tick']);
    }

    await api().delete(`/apps/${app}/schedules/${id}`).expect(204);
    await api().get(`/apps/${app}/schedules/${id}/runs`).expect(404);
    expect((await api().get(`/apps/${app}/schedules`).expect(200)).body.schedules).to.deep.equal([]);
  });
});
