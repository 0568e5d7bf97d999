import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { loadThroughProxy } from '../support/load.ts';
import { startTestPlatform, viaProxy, type JobView, type TestPlatform } from '../support/platform.ts';

/**
 * A node app that answers `<version> <hostname>` (the hostname tells instances apart), can be
 * made to allocate past its memory limit (/boom), and, with CRASH_AFTER_ANSWER set, exits
 * shortly after its first answer (so it passes the health check, then crashes, every time).
 */
function lifecycleApp(version: string): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'lifecycle', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': `const http = require('http');
const os = require('os');
const hold = [];
http.createServer((req, res) => {
  if (req.url === '/boom') { for (;;) hold.push(Buffer.alloc(4 * 1024 * 1024, 1)); }
  if (req.url === '/healthz') return res.end('ok');
  if (req.url.startsWith('/missing')) { res.statusCode = 404; return res.end('not here'); }
  res.end('${version} ' + os.hostname() + '\\n');
  if (process.env.CRASH_AFTER_ANSWER) setTimeout(() => { console.log('bye from crashy'); process.exit(3); }, 300);
}).listen(process.env.PORT);
`,
  };
}

/**
 * A node app that logs each request's method, path and user agent, and that stops listening
 * (its process stays) on /close: what a hung or broken server looks like from outside.
 */
function loggingApp(): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'logging', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': `const http = require('http');
const server = http.createServer((req, res) => {
  console.log(req.method + ' ' + req.url + ' ' + req.headers['user-agent']);
  res.end('ok\\n');
  if (req.url === '/close') server.close();
}).listen(process.env.PORT);
setInterval(() => {}, 60000);
`,
  };
}

describe('app lifecycle through the API (Docker, Redis, git)', function () {
  this.timeout(240_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  const repos: GitFixture[] = [];
  const unique = () => `lc-${crypto.randomBytes(3).toString('hex')}`;
  const host = (app: string) => `${app}.localhost:${gasper.proxyPort}`;
  const body = async (app: string, urlPath = '/') => (await viaProxy(gasper.proxyPort, host(app), urlPath)).body;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({
      GASPER_DRAIN_GRACE_MS: '300',
      GASPER_STOP_TIMEOUT_S: '2',
      GASPER_HEALTH_INTERVAL_MS: '1000',
      GASPER_RESTART_BACKOFF_MS: '200',
      GASPER_CRASH_LOOP_RESTARTS: '3',
      GASPER_KEEP_RELEASES: '2',
      // The machine is shared: give slow starts room.
      GASPER_HEALTH_TIMEOUT_MS: '60000',
    });
    repo = await createGitRepo(lifecycleApp('v1'));
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
    await Promise.all(repos.map((r) => r.remove()));
  });

  async function completed(res: { body: { job: { id: string } } }): Promise<JobView> {
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
    return job;
  }
  /** A repository of its own for a test that commits (tests never see each other's commits). */
  async function ownRepo(): Promise<GitFixture> {
    const own = await createGitRepo(lifecycleApp('v1'));
    repos.push(own);
    return own;
  }
  async function deploy(name: string, extra: Record<string, unknown> = {}, from: GitFixture = repo) {
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name, repo: { url: from.url }, runtime: 'node', ...extra })
      .expect(202);
    await completed(res);
    return (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
  }
  const app = async (name: string) => (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
  async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('restart, stop, start and rebuild are jobs that converge; stop takes the app out of the proxy', async () => {
    const name = unique();
    const own = await ownRepo();
    const first = await deploy(name, {}, own);
    expect(first.status).to.equal('running');
    const [before] = first.instances;

    const restart = await gasper.api().post(`/apps/${name}/restart`).expect(202);
    expect(restart.body.job.id).to.match(new RegExp(`^restart-${name}-`));
    const restartJob = await completed(restart);
    expect((await gasper.api().get(`/jobs/${restartJob.id}`).expect(200)).body.job.type).to.equal('operate-app');
    const restarted = await app(name);
    expect(restarted.status).to.equal('running');
    expect(restarted.instances[0].container).to.not.equal(before.container);
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(1);
    expect(await body(name)).to.match(/^v1 /);

    await completed(await gasper.api().post(`/apps/${name}/stop`).expect(202));
    const stopped = await app(name);
    expect(stopped.status).to.equal('stopped');
    expect(stopped.instances).to.deep.equal([]);
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
    expect((await viaProxy(gasper.proxyPort, host(name))).status).to.equal(503);
    // Stopping a stopped app is a job that changes nothing.
    const again = await completed(await gasper.api().post(`/apps/${name}/stop`).expect(202));
    expect(again.result, JSON.stringify(again)).to.deep.equal({ outcome: 'stopped', containers: 0 });

    await completed(await gasper.api().post(`/apps/${name}/start`).expect(202));
    expect((await app(name)).status).to.equal('running');
    expect(await body(name)).to.match(/^v1 /);
    const startAgain = await completed(await gasper.api().post(`/apps/${name}/start`).expect(202));
    expect(startAgain.result).to.have.property('outcome', 'unchanged');

    const v2 = await own.commit(lifecycleApp('v2'), 'v2');
    const rebuild = await gasper.api().post(`/apps/${name}/rebuild`).expect(202);
    expect(rebuild.body.job.id).to.match(new RegExp(`^deploy-${name}-.*-r000002$`));
    await completed(rebuild);
    const rebuilt = await app(name);
    expect(rebuilt).to.include({ release: 'r000002', commit: v2, status: 'running' });
    expect(await body(name)).to.match(/^v2 /);
  });

  it('redeploys with zero failed requests under continuous load, draining the old instance', async () => {
    const name = unique();
    const own = await ownRepo();
    await deploy(name, {}, own);
    await own.commit(lifecycleApp('v2'), 'v2');
    let redeployed!: Promise<JobView>;
    const load = loadThroughProxy({
      proxyPort: gasper.proxyPort,
      host: host(name),
      ratePerSecond: 100,
      maxMs: 60_000,
      until: (redeployed = (async () => {
        await new Promise((r) => setTimeout(r, 500));
        const res = await gasper
          .api()
          .patch(`/apps/${name}`)
          .send({ env: { GREETING: 'changed' } })
          .expect(202);
        expect(res.body.redeploy).to.equal(true);
        expect(res.body.changed).to.deep.equal(['env']);
        const job = await completed(res);
        await new Promise((r) => setTimeout(r, 500));
        return job;
      })()),
    });
    const [result, job] = await Promise.all([load, redeployed]);
    expect(result.failed, JSON.stringify(result.failures)).to.equal(0);
    expect(result.ok).to.be.greaterThan(100);
    expect(result.bodies, JSON.stringify(job.result)).to.deep.equal(['v1', 'v2']);
    expect(job.log.join('\n')).to.include('draining the previous instances');
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(1);
  });

  it('a failed redeploy leaves the old release serving and says why in lastError', async () => {
    const name = unique();
    const first = await deploy(name);
    const res = await gasper
      .api()
      .patch(`/apps/${name}`)
      .send({ run: 'echo "cannot start: missing DATABASE_URL" >&2; exit 1' })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state).to.equal('failed');
    const after = await app(name);
    expect(after).to.include({ status: 'running', release: first.release });
    expect(after.lastError, after.lastError)
      .to.include('app exited before answering HTTP')
      .and.include('missing DATABASE_URL');
    expect(after.instances).to.deep.equal(first.instances);
    expect(await body(name)).to.match(/^v1 /);
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(1);
    const releases = (await gasper.api().get(`/apps/${name}/releases`).expect(200)).body.releases;
    expect(releases.map((r: { id: string; status: string }) => [r.id, r.status])).to.deep.equal([
      ['r000002', 'failed'],
      ['r000001', 'active'],
    ]);
    expect(releases[0]).to.include({ onDisk: false });
  });

  it('moves to another branch, repository and folder with a redeploy; a branch that is not there changes nothing', async () => {
    const name = unique();
    const first = await deploy(name, {}, await ownRepo());
    const wrong = await gasper
      .api()
      .patch(`/apps/${name}`)
      .send({ repo: { branch: 'nope' } })
      .expect(202);
    expect(wrong.body.changed).to.deep.equal(['repo.branch']);
    const failed = await gasper.waitForJob(wrong.body.job.id);
    expect(failed.state).to.equal('failed');
    expect(failed.error).to.include('branch nope not found in file://');
    expect(await app(name)).to.include({ status: 'running', release: first.release });
    expect(await body(name)).to.match(/^v1 /);

    // A monorepo on another branch: its folder site/ is the app.
    const mono = await createGitRepo(
      Object.fromEntries(Object.entries(lifecycleApp('v2')).map(([file, text]) => [`site/${file}`, text])),
      'release',
    );
    repos.push(mono);
    const moved = await gasper
      .api()
      .patch(`/apps/${name}`)
      .send({ repo: { url: mono.url, branch: 'release', path: 'site' } })
      .expect(202);
    expect(moved.body.changed).to.deep.equal(['repo.url', 'repo.branch', 'repo.path']);
    const job = await completed(moved);
    expect(job.log.join('\n')).to.include(`cloned ${mono.url} (release)`).and.include('folder site as /app');
    expect(await body(name)).to.match(/^v2 /);
    expect((await app(name)).repo).to.deep.equal({ url: mono.url, branch: 'release', path: 'site', hasToken: false });
  });

  it('records no crash when stop, start and restart are sent one right after another, and ends as the last one asked', async () => {
    const name = unique();
    await deploy(name);
    for (const ops of [
      ['stop', 'start', 'restart'],
      ['restart', 'stop', 'start'],
      ['start', 'restart', 'stop'],
    ]) {
      // Each request answers at once; the jobs overlap (the worker takes them together).
      const jobs = [];
      for (const op of ops) jobs.push(await gasper.api().post(`/apps/${name}/${op}`).expect(202));
      for (const res of jobs) {
        const job = await gasper.waitForJob(res.body.job.id);
        expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
      }
      // The supervisor hears the containers' die events after the jobs: give it a health round.
      await new Promise((r) => setTimeout(r, 2500));
      const after = await app(name);
      const last = ops.at(-1);
      expect(after.status, `${ops.join(', ')}: ${after.lastError}`).to.equal(last === 'stop' ? 'stopped' : 'running');
      expect(after.lastError ?? '', ops.join(', ')).to.not.match(/exited|crash|restarting|health/);
      if (last !== 'stop') expect(await body(name)).to.match(/^v1 /);
    }
  });

  it('lists a deploy replaced by a newer one before it served as cancelled, not failed', async () => {
    const name = unique();
    await deploy(name);
    const slow = await gasper
      .api()
      .patch(`/apps/${name}`)
      .send({ build: ['sleep 5'] })
      .expect(202);
    await waitFor('the slow build to start', async () =>
      (await gasper.api().get(`/jobs/${slow.body.job.id}`).expect(200)).body.job.progress.step.startsWith('building'),
    );
    const newer = await gasper.api().patch(`/apps/${name}`).send({ build: [] }).expect(202);
    const replaced = await gasper.waitForJob(slow.body.job.id);
    expect(replaced.state, replaced.log.join('\n')).to.equal('completed');
    await completed(newer);
    const releases = (await gasper.api().get(`/apps/${name}/releases`).expect(200)).body.releases;
    expect(releases.map((r: { id: string; status: string }) => [r.id, r.status])).to.deep.equal([
      ['r000003', 'active'],
      ['r000002', 'cancelled'],
      ['r000001', 'superseded'],
    ]);
    expect(releases[1].error).to.be.a('string').and.not.match(/fail/i);
    expect(await app(name)).to.include({ status: 'running', release: 'r000003' });
  });

  it('records releases and rolls back to the previous one without cloning or building', async () => {
    const name = unique();
    const own = await ownRepo();
    const first = await deploy(name, { build: ['echo building'], env: { SECRET_TOKEN: 'hunter2' } }, own);
    const v2 = await own.commit(lifecycleApp('v2'), 'v2');
    await completed(await gasper.api().post(`/apps/${name}/rebuild`).expect(202));
    expect(await body(name)).to.match(/^v2 /);

    const listed = (await gasper.api().get(`/apps/${name}/releases`).expect(200)).body.releases;
    expect(listed.map((r: { id: string; status: string }) => [r.id, r.status])).to.deep.equal([
      ['r000002', 'active'],
      ['r000001', 'superseded'],
    ]);
    expect(listed[0]).to.include({ commit: v2, current: true, onDisk: true });
    expect(listed[1].commit).to.equal(first.commit);
    expect(listed[0].config.env).to.deep.equal({ SECRET_TOKEN: '••••••' });
    expect(JSON.stringify(listed)).to.not.include('hunter2');
    expect(listed[0]).to.not.have.property('sealedEnv');
    const one = (await gasper.api().get(`/apps/${name}/releases/r000001`).expect(200)).body.release;
    expect(one.buildLog.join('\n')).to.include('$ echo building').and.include('  building');
    expect(one.timings).to.have.property('durationMs').that.is.a('number');

    const rollback = await gasper.api().post(`/apps/${name}/rollback`).send({}).expect(202);
    expect(rollback.body.release).to.equal('r000001');
    const job = await completed(rollback);
    expect(job.log.join('\n')).to.not.match(/cloned|building/);
    const rolled = await app(name);
    expect(rolled).to.include({ release: 'r000001', commit: first.commit, status: 'running' });
    expect(await body(name)).to.match(/^v1 /);
    const after = (await gasper.api().get(`/apps/${name}/releases`).expect(200)).body.releases;
    expect(after.map((r: { id: string; status: string }) => [r.id, r.status])).to.deep.equal([
      ['r000002', 'superseded'],
      ['r000001', 'active'],
    ]);

    // Named rollback forward again; then a third release prunes the oldest directory (GASPER_KEEP_RELEASES=2).
    await completed(await gasper.api().post(`/apps/${name}/rollback`).send({ release: 'r000002' }).expect(202));
    expect(await body(name)).to.match(/^v2 /);
    await completed(await gasper.api().post(`/apps/${name}/rebuild`).expect(202));
    const dirs = (await fs.readdir(path.join(gasper.stateDir, 'apps', name, 'releases'))).sort();
    expect(dirs).to.deep.equal(['r000002', 'r000003']);
    const pruned = await gasper.api().post(`/apps/${name}/rollback`).send({ release: 'r000001' }).expect(409);
    expect(pruned.body.code).to.equal('RELEASE_NOT_ON_DISK');
  });

  it('reports an app OOM-killed past its memory limit while a neighbour keeps answering', async () => {
    const neighbour = unique();
    const hog = unique();
    await deploy(neighbour);
    const deployed = await deploy(hog, { resources: { memory: 64, cpu: 0.5 } });
    expect(deployed.scale.resources).to.deep.equal({ cpu: 0.5, memory: 64 });
    const [container] = await managedContainers(gasper.nodeId, hog);
    const limits = (await docker.getContainer(container!.Id).inspect()).HostConfig;
    expect(limits).to.include({ Memory: 64 * 1024 * 1024, MemorySwap: 64 * 1024 * 1024, NanoCpus: 500_000_000 });

    await viaProxy(gasper.proxyPort, host(hog), '/boom').catch(() => undefined);
    const reported = await waitFor('the OOM report', async () => {
      const a = await app(hog);
      return /OOM/.test(a.lastError ?? '') && a;
    });
    expect(reported.lastError).to.include('64 MiB');
    for (let i = 0; i < 20; i++) expect(await body(neighbour)).to.match(/^v1 /);
    // Restarted after the backoff, it serves again.
    await waitFor(
      'the restarted instance',
      async () => (await app(hog)).instances.length === 1 && (await body(hog)).startsWith('v1 '),
    );
  });

  it('ends a crash-looping app as crashed, with its last output lines', async () => {
    const name = unique();
    await deploy(name, { env: { CRASH_AFTER_ANSWER: '1' } });
    const crashed = await waitFor(
      'status crashed',
      async () => {
        const a = await app(name);
        return a.status === 'crashed' && a;
      },
      90_000,
    );
    expect(crashed.lastError).to.include('crash loop').and.include('exited with code 3').and.include('bye from crashy');
    expect(crashed.instances).to.deep.equal([]);
    expect((await viaProxy(gasper.proxyPort, host(name))).status).to.equal(503);
    // An operator fixes the config: the PATCH redeploys and the app runs again.
    const fixed = await gasper
      .api()
      .patch(`/apps/${name}`)
      .send({ env: { CRASH_AFTER_ANSWER: null } })
      .expect(202);
    await completed(fixed);
    expect((await app(name)).status).to.equal('running');
  });

  it('balances over two instances and keeps serving when one is killed', async () => {
    const name = unique();
    const deployed = await deploy(name, { instances: 2, healthCheck: { path: '/healthz' } });
    expect(deployed.instances).to.have.length(2);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add((await body(name)).split(' ')[1]!);
    expect(seen.size).to.equal(2);

    await docker.getContainer(deployed.instances[0].container).kill();
    let failed = 0;
    for (let i = 0; i < 50; i++) if ((await viaProxy(gasper.proxyPort, host(name))).status !== 200) failed++;
    expect(failed).to.equal(0);
    await waitFor('the killed instance back', async () => {
      const a = await app(name);
      return (
        a.instances.length === 2 &&
        a.instances.some((i: { container: string }) => i.container === deployed.instances[0].container)
      );
    });
    // A health check path that fails makes the instance unhealthy: it is restarted (and fails again: crash loop).
    const patched = await gasper
      .api()
      .patch(`/apps/${name}`)
      .send({ healthCheck: { path: '/missing' } })
      .expect(200);
    expect(patched.body).to.include({ redeploy: false });
    expect(patched.body.app.scale.healthCheck).to.deep.equal({ path: '/missing' });
    const unhealthy = await waitFor('an unhealthy report', async () => {
      const a = await app(name);
      return /health checks/.test(a.lastError ?? '') && a;
    });
    expect(unhealthy.lastError).to.include('GET /missing');
  });

  it("watches instances quietly after the deploy: no probe in the app's logs over several intervals, and an instance that stops listening is restarted", async () => {
    const name = unique();
    const own = await createGitRepo(loggingApp());
    repos.push(own);
    await deploy(name, {}, own);
    const lines = async (query = '') =>
      (
        (await gasper.api().get(`/apps/${name}/logs?tail=1000${query}`).expect(200)).body.lines as { text: string }[]
      ).map((l) => l.text);
    /** A visitor's request, then its line in the logs: what the app printed before it has been collected. */
    const mark = async (tag: string) => {
      expect((await viaProxy(gasper.proxyPort, host(name), `/${tag}`)).status).to.equal(200);
      await waitFor(`${tag} in the logs`, async () => (await lines()).some((l) => l.startsWith(`GET /${tag} `)));
    };
    await mark('first');
    // The deploy's own HTTP check is marked, so the logs API hides it unless asked.
    const deployProbes = (await lines('&probes=1')).filter((l) => l.includes('gasper-health/1'));
    expect(deployProbes.length).to.be.at.least(1);
    expect((await lines()).filter((l) => l.includes('gasper-health/1'))).to.deep.equal([]);

    // Five health intervals (1 s here): the periodic check sends the app no request.
    await new Promise((r) => setTimeout(r, 5000));
    await mark('second');
    const all = await lines('&probes=1');
    expect(
      all.filter((l) => l.startsWith('GET / ')),
      all.join('\n'),
    ).to.deep.equal(deployProbes);
    expect(all.filter((l) => l.startsWith('GET') && !l.startsWith('GET / '))).to.deep.equal([
      'GET /first undefined',
      'GET /second undefined',
    ]);

    // It stops listening (the process stays): the quiet check finds it, and the restart serves again.
    const container = (await app(name)).instances[0].container as string;
    await viaProxy(gasper.proxyPort, host(name), '/close');
    const unhealthy = await waitFor('an unhealthy report', async () => {
      const a = await app(name);
      return /health checks/.test(a.lastError ?? '') && a;
    });
    expect(unhealthy.lastError).to.include(`instance ${container} failed 3 health checks in a row`);
    await waitFor(
      'the instance back in the proxy',
      async () =>
        (await app(name)).instances.length === 1 &&
        (await viaProxy(gasper.proxyPort, host(name), '/again')).status === 200,
    );
  });

  it('creates again an instance whose container was removed by hand, and serves from it', async () => {
    const name = unique();
    const deployed = await deploy(name);
    const container = deployed.instances[0].container as string;
    await docker.getContainer(container).remove({ force: true });
    const back = await waitFor('the removed instance created again and back in the proxy', async () => {
      const a = await app(name);
      return a.instances.some((i: { container: string }) => i.container === container) && a;
    });
    expect(back.status).to.equal('running');
    // Docker reports the removal as a `die` first (a crash), or the periodic check finds it missing.
    expect(back.lastError).to.include(`instance ${container}`);
    expect((await docker.getContainer(container).inspect()).State.Running).to.equal(true);
    expect((await viaProxy(gasper.proxyPort, host(name))).status).to.equal(200);
  });
});
