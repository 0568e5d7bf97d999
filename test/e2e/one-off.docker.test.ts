import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { appUser } from '../../src/core/app-user.ts';
import { containerLabels } from '../../src/core/naming.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { docker, requireDocker } from '../support/docker.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

const gasperBin = fileURLToPath(new URL('../../bin/gasper.js', import.meta.url));

/** A node web process that serves the marker file the release phase writes (or `no marker`). */
function markerApp(release: string): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'marker', version: '1.0.0' }),
    Procfile: `web: node server.js\nrelease: ${release}\n`,
    'server.js': `const fs = require('fs');
require('http').createServer((req, res) => {
  let marker = 'no marker';
  try { marker = fs.readFileSync('marker.txt', 'utf8').trim(); } catch {}
  res.end(marker + '\\n');
}).listen(process.env.PORT);
`,
  };
}

/**
 * One-off runs (`POST /apps/:name/run`, `gasper run`) and the release phase, with real
 * containers: exit codes, output, the time limit, and a failing release leaving the previous
 * release serving.
 */
describe('one-off runs and the release phase (Docker, Redis, git)', function () {
  this.timeout(240_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  const app = `run-${crypto.randomBytes(3).toString('hex')}`;
  const host = () => `${app}.localhost:${gasper.proxyPort}`;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({ GASPER_RUN_TIMEOUT_S: '3' });
    repo = await createGitRepo(markerApp('echo "migrated $GREETING" > marker.txt && echo release ran'));
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
  });

  /** This installation's one-off containers of the app that are left. */
  const runContainers = async () =>
    (await docker.listContainers({ all: true, filters: { label: [`${containerLabels.role}=run`] } })).filter(
      (c) => c.Labels[containerLabels.app] === app && c.Labels[containerLabels.node] === gasper.nodeId,
    );

  it('answers 409 before the app has a release, and 400 naming a missing command', async () => {
    const created = await gasper
      .api()
      .post('/apps')
      .send({ name: app, repo: { url: repo.url, branch: 'main' }, runtime: 'node', env: { GREETING: 'v1' } })
      .expect(202);
    const early = await gasper.api().post(`/apps/${app}/run`).send({ command: 'true' });
    // The deploy may have finished already on a fast machine: then the run is accepted.
    if (early.status !== 202) expect(early.status, JSON.stringify(early.body)).to.equal(409);
    const bad = await gasper.api().post(`/apps/${app}/run`).send({ comand: 'true' }).expect(400);
    expect(bad.body.fields).to.have.keys('command', 'comand');
    const job = await gasper.waitForJob(created.body.job.id);
    expect(job.state, job.log.join('\n')).to.equal('completed');
  });

  it('runs the release phase once before the web process starts: the web process serves its marker', async () => {
    const deploy = (await gasper.api().get(`/apps/${app}/releases`).expect(200)).body.releases[0];
    const { release } = (await gasper.api().get(`/apps/${app}/releases/${deploy.id}`).expect(200)).body;
    const log = release.buildLog.join('\n');
    expect(log).to.match(/release phase: echo "migrated \$GREETING".* \(Procfile release process\)/);
    expect(log)
      .to.match(/ {2}release ran/)
      .and.match(/release phase succeeded/);
    expect(log.indexOf('release phase:')).to.be.lessThan(log.indexOf('starting 1 instance'));
    expect((await viaProxy(gasper.proxyPort, host())).body).to.equal('migrated v1\n');
    expect(await runContainers()).to.have.length(0);
  });

  it('`gasper run <app> -- sh -c "echo hi; exit 3"` prints hi and exits 3', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [gasperBin, 'run', app, '--', 'sh', '-c', 'echo hi; echo "env $GREETING" >&2; exit 3'],
          { env: { ...process.env, GASPER_URL: gasper.apiUrl, GASPER_TOKEN: gasper.token }, timeout: 60_000 },
          (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
        );
      },
    );
    expect(code, stderr).to.equal(3);
    // Docker reads a container's stdout and stderr apart: across the two, lines may come in either order.
    expect(stdout.split('\n').sort()).to.deep.equal(['', 'env v1', 'hi']);
    expect(await runContainers()).to.have.length(0);
  });

  it('returns the exit code and output through the API, and kills a run over the time limit', async () => {
    const ok = await gasper.api().post(`/apps/${app}/run`).send({ command: 'cat marker.txt; id -u' }).expect(202);
    const done = await gasper.waitForJob(ok.body.job.id);
    expect(done.state).to.equal('completed');
    expect(done.log).to.deep.equal(['migrated v1', String(appUser.uid)]);
    expect(done.result).to.include({ exitCode: 0 });

    const started = Date.now();
    const slow = await gasper.api().post(`/apps/${app}/run`).send({ command: 'echo start; sleep 60' }).expect(202);
    const killed = await gasper.waitForJob(slow.body.job.id, 30_000);
    expect(Date.now() - started).to.be.lessThan(20_000);
    expect(killed.state).to.equal('completed');
    expect(killed.result).to.include({ exitCode: 137, timedOut: true });
    expect(killed.log[0]).to.equal('start');
    expect(killed.log.at(-1)).to.match(/killed after 3 s: over the time limit \(GASPER_RUN_TIMEOUT_S\)/);
    expect(await runContainers()).to.have.length(0);
  });

  it("runs hold their owner's job slots (GASPER_JOBS_PER_OWNER, 2 here): of 3 runs at once, 2 run together and the third after", async () => {
    const command = 'echo "start $(date +%s%N)"; sleep 1; echo "end $(date +%s%N)"';
    const posted = await Promise.all(
      [1, 2, 3].map(() => gasper.api().post(`/apps/${app}/run`).send({ command }).expect(202)),
    );
    const jobs = await Promise.all(posted.map((r) => gasper.waitForJob(r.body.job.id, 60_000)));
    const spans = jobs.map((job) => {
      expect(job.state, job.log.join('\n')).to.equal('completed');
      const at = (word: string) => Number(job.log.find((l) => l.startsWith(`${word} `))!.split(' ')[1]) / 1e6;
      return { start: at('start'), end: at('end') };
    });
    // The most runs whose commands ran at the same moment (the worker runs 4 jobs at once).
    const together = Math.max(...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
    expect(together).to.equal(2);
  });

  it('a failing release phase fails the deploy with its exit code and output, and the previous release keeps serving', async () => {
    await repo.commit(markerApp('echo "migrating"; echo "table locked" >&2; exit 4'));
    const res = await gasper.api().post(`/apps/${app}/rebuild`).send({}).expect(202);
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state).to.equal('failed');
    // stdout and stderr are two streams: their lines may interleave either way.
    expect(job.error).to.match(/release phase \(.*\) exited with code 4; last lines of its output:\n/);
    expect(job.error).to.include('\nmigrating').and.include('\ntable locked');
    const doc = (await gasper.api().get(`/apps/${app}`).expect(200)).body.app;
    expect(doc.status).to.equal('running');
    expect(doc.lastError).to.match(/exited with code 4/);
    expect((await viaProxy(gasper.proxyPort, host())).body).to.equal('migrated v1\n');
    expect(await runContainers()).to.have.length(0);
  });
  it("a schedule's ticks while the app is stopped are skipped runs ('app stopped'), no container; they run again once started", async () => {
    const created = await gasper
      .api()
      .post(`/apps/${app}/schedules`)
      .send({ command: 'echo tick', schedule: '* * * * * *' })
      .expect(201);
    const { id } = created.body.schedule;
    type Run = { job: { id: string } | null; state: string; reason?: string; queuedAt: string };
    const runs = async () =>
      (await gasper.api().get(`/apps/${app}/schedules/${id}/runs`).expect(200)).body.runs as Run[];
    const until = async (what: string, ok: (r: Run[]) => boolean) => {
      const deadline = Date.now() + 60_000;
      while (!ok(await runs())) {
        if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(await runs(), null, 1)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await until('a completed run', (r) => r.some((x) => x.state === 'completed'));

    const stop = await gasper.api().post(`/apps/${app}/stop`).send({}).expect(202);
    expect((await gasper.waitForJob(stop.body.job.id)).state).to.equal('completed');
    // Ticks already past the check when the stop landed may still run: a second's margin.
    const stoppedAt = Date.now() + 1000;
    const afterStop = (r: Run[]) => r.filter((x) => Date.parse(x.queuedAt) > stoppedAt);
    await until('two ticks after the stop', (r) => afterStop(r).length >= 2);
    expect((await runs()).some((x) => x.state === 'skipped' && Date.parse(x.queuedAt) > stoppedAt)).to.equal(true);
    for (const run of afterStop(await runs()))
      expect(run).to.include({ state: 'skipped', reason: 'app stopped', job: null });
    expect(await runContainers()).to.have.length(0);

    const start = await gasper.api().post(`/apps/${app}/start`).send({}).expect(202);
    expect((await gasper.waitForJob(start.body.job.id)).state).to.equal('completed');
    const startedAt = Date.now();
    await until('a run after the start', (r) =>
      r.some((x) => x.state === 'completed' && Date.parse(x.queuedAt) > startedAt),
    );
    await gasper.api().delete(`/apps/${app}/schedules/${id}`).expect(204);
  });
});
