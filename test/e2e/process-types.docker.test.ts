import crypto from 'node:crypto';
import { expect } from 'chai';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type JobView, type TestPlatform } from '../support/platform.ts';

/** A web server and a worker that prints a numbered line every second, declared in a Procfile. */
function webAndWorker(): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'procs', version: '1.0.0' }),
    Procfile: 'web: node web.js\nworker: node worker.js\nrelease: echo not a process type\n',
    'web.js': `require('http').createServer((req, res) => res.end('web ok\\n')).listen(process.env.PORT);\n`,
    'worker.js': `let n = 0;\nsetInterval(() => console.log('worker tick ' + ++n + ' on ' + require('os').hostname()), 1000);\n`,
  };
}

/** A Procfile with a worker and no web process. */
function workerOnly(): Record<string, string> {
  return {
    Procfile: 'worker: node worker.js\n',
    'worker.js': `setInterval(() => console.log('lonely worker tick'), 1000);\n`,
  };
}

describe('process types through the API (Docker, Redis, git)', function () {
  this.timeout(300_000);
  let gasper: TestPlatform;
  const repos: GitFixture[] = [];
  const unique = () => `pt-${crypto.randomBytes(3).toString('hex')}`;
  const host = (app: string) => `${app}.localhost:${gasper.proxyPort}`;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({
      GASPER_DRAIN_GRACE_MS: '300',
      GASPER_STOP_TIMEOUT_S: '2',
      GASPER_HEALTH_INTERVAL_MS: '1000',
      GASPER_RESTART_BACKOFF_MS: '200',
      GASPER_CRASH_LOOP_RESTARTS: '3',
      GASPER_HEALTH_TIMEOUT_MS: '60000',
    });
  });
  after(async () => {
    await gasper?.close();
    await Promise.all(repos.map((r) => r.remove()));
  });

  async function completed(res: { body: { job: { id: string } } }): Promise<JobView> {
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, job.log.join('\n')).to.equal('completed');
    return job;
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const containersOf = async (app: string, type: string) =>
    (await managedContainers(gasper.nodeId, app)).filter((c) => c.Labels['io.gasper.process'] === type);

  it('runs web and worker from one Procfile: worker logs tagged, restarted when killed, scaled by PATCH processes', async () => {
    const repo = await createGitRepo(webAndWorker());
    repos.push(repo);
    const name = unique();
    // The default formation: web 1, the worker 0 until asked (Heroku's), said in the job log.
    const first = await completed(
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, runtime: 'node' })
        .expect(202),
    );
    expect(first.log.join('\n')).to.include('processes: web ×1').and.include('declared but scaled to 0: worker');
    expect(await containersOf(name, 'worker')).to.have.length(0);

    // Bad formations are 400s naming the field.
    const bad = await gasper
      .api()
      .patch(`/apps/${name}`)
      .send({ processes: { worker: 10_000 } })
      .expect(400);
    expect(bad.body.fields).to.have.property('processes.worker');
    const release = await gasper
      .api()
      .patch(`/apps/${name}`)
      .send({ processes: { release: 1 } })
      .expect(400);
    expect(release.body.fields['processes.release']).to.include('release phase');

    const scaled = await gasper
      .api()
      .patch(`/apps/${name}`)
      .send({ processes: { worker: 1 } })
      .expect(202);
    expect(scaled.body.changed).to.deep.equal(['processes']);
    const job = await completed(scaled);
    expect(job.log.join('\n')).to.include('processes: web ×1, worker ×1');
    expect((await viaProxy(gasper.proxyPort, host(name))).body).to.equal('web ok\n');

    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    expect(app.formation).to.deep.equal({
      desired: { web: 1, worker: 1 },
      running: { web: 1, worker: 1 },
      source: 'app',
    });
    expect(app.instances.map((i: { process: string }) => i.process).sort()).to.deep.equal(['web', 'worker']);
    const worker = app.instances.find((i: { process: string }) => i.process === 'worker');
    expect(worker.port).to.equal(0);
    expect(worker.container).to.match(new RegExp(`-${app.release}-worker-\\d+$`));
    // No port published, same limits and hardening as web.
    const info = await docker.getContainer(worker.container).inspect();
    expect(info.HostConfig.PortBindings ?? {}).to.deep.equal({});
    expect(info.HostConfig).to.include({ Memory: 512 * 1024 * 1024, RestartPolicy: info.HostConfig.RestartPolicy });
    expect(info.HostConfig.CapDrop).to.deep.equal(['ALL']);

    // The worker's output is in the app's logs, tagged worker; ?process=worker leaves out the rest.
    const tagged = await until('worker lines in the logs', async () => {
      const lines = (await gasper.api().get(`/apps/${name}/logs?tail=50&process=worker`).expect(200)).body.lines as {
        process: string;
        text: string;
      }[];
      return lines.some((l) => l.text.startsWith('worker tick')) ? lines : undefined;
    });
    expect(new Set(tagged.map((l) => l.process))).to.deep.equal(new Set(['worker']));
    await gasper.api().get(`/apps/${name}/logs?process=no%20such`).expect(400);

    // Killed: the supervisor starts it again (backoff), and it is back in the app's instances.
    const before = (await docker.getContainer(worker.container).inspect()).State.StartedAt;
    await docker.getContainer(worker.container).kill();
    await until('the worker restarted', async () => {
      const state = (await docker.getContainer(worker.container).inspect()).State;
      return state.Running && state.StartedAt !== before ? true : undefined;
    });
    await until('the worker back in the instances', async () => {
      const now = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
      return now.status === 'running' &&
        now.instances.some((i: { container: string }) => i.container === worker.container)
        ? true
        : undefined;
    });

    // Scaled to 2, then to 0.
    await completed(
      await gasper
        .api()
        .patch(`/apps/${name}`)
        .send({ processes: { worker: 2 } })
        .expect(202),
    );
    expect(await containersOf(name, 'worker')).to.have.length(2);
    expect(await containersOf(name, 'web')).to.have.length(1);
    // A restart replaces the workers too (new containers beside the old, which are stopped).
    const workersBefore = (await containersOf(name, 'worker')).map((c) => c.Names[0]);
    await completed(await gasper.api().post(`/apps/${name}/restart`).expect(202));
    const workersAfter = (await containersOf(name, 'worker')).map((c) => c.Names[0]);
    expect(workersAfter).to.have.length(2);
    expect(workersAfter.filter((n) => workersBefore.includes(n))).to.deep.equal([]);
    const zero = await completed(
      await gasper
        .api()
        .patch(`/apps/${name}`)
        .send({ processes: { worker: 0 } })
        .expect(202),
    );
    expect(zero.log.join('\n')).to.include('declared but scaled to 0: worker');
    expect(await containersOf(name, 'worker')).to.have.length(0);
    expect((await viaProxy(gasper.proxyPort, host(name))).body).to.equal('web ok\n');
  });

  it("app.json formation: applied after the first deploy of an app with none of its own (a redeploy places it); the user's own wins", async () => {
    const formation = { web: { quantity: 2 }, worker: { quantity: 1 } };
    const repo = await createGitRepo({ ...webAndWorker(), 'app.json': JSON.stringify({ formation }) });
    repos.push(repo);
    const name = unique();
    const first = await completed(
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, runtime: 'node' })
        .expect(202),
    );
    expect(first.log.join('\n'))
      .to.include('processes: web ×1')
      .and.include('app.json: formation web ×2, worker ×1 asked (the app has no formation of its own)');
    // The control plane (its node check) places it and redeploys.
    const applied = await until(
      'the app.json formation running',
      async () => {
        const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
        return app.status === 'running' && app.formation.running?.worker === 1 && app.formation.running?.web === 2
          ? app
          : undefined;
      },
      120_000,
    );
    expect(applied.formation).to.deep.equal({
      desired: { web: 2, worker: 1 },
      running: { web: 2, worker: 1 },
      source: 'app.json',
    });
    // The worker starts after the switch: once the redeploy is done.
    const redeploy = await gasper.waitForJob(applied.lastJob.id);
    expect(redeploy.state, redeploy.log.join('\n')).to.equal('completed');
    expect(await containersOf(name, 'worker')).to.have.length(1);
    expect(redeploy.log.join('\n'))
      .to.include('processes: web ×2, worker ×1')
      .and.include("app.json: formation web ×2, worker ×1: applied (the app's processes come from app.json");
    // A PATCH makes it the user's.
    const patched = await completed(
      await gasper
        .api()
        .patch(`/apps/${name}`)
        .send({ processes: { worker: 0 } })
        .expect(202),
    );
    expect(patched.log.join('\n')).to.include('app.json: formation web ×2, worker ×1 not applied: the app has its own');
    expect((await gasper.api().get(`/apps/${name}`).expect(200)).body.app.formation.source).to.equal('app');

    // An app created with its own formation keeps it.
    const own = unique();
    const job = await completed(
      await gasper
        .api()
        .post('/apps')
        .send({ name: own, repo: { url: repo.url }, runtime: 'node', instances: 1 })
        .expect(202),
    );
    expect(job.log.join('\n')).to.include('app.json: formation web ×2, worker ×1 not applied: the app has its own');
    await new Promise((r) => setTimeout(r, 3000));
    const kept = (await gasper.api().get(`/apps/${own}`).expect(200)).body.app;
    expect(kept.formation).to.include({ source: 'app' });
    expect(kept.formation.desired).to.deep.equal({ web: 1 });
    await completed(await gasper.api().delete(`/apps/${name}`).expect(202));
    await completed(await gasper.api().delete(`/apps/${own}`).expect(202));
  });

  it('deploys a worker-only app without an HTTP wait; the proxy answers 503 "no web process"', async () => {
    const repo = await createGitRepo(workerOnly());
    repos.push(repo);
    const name = unique();
    const started = Date.now();
    const job = await completed(
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, runtime: 'node', processes: { web: 0, worker: 1 } })
        .expect(202),
    );
    const log = job.log.join('\n');
    expect(log).to.include('no web process: no HTTP wait').and.include('processes: worker ×1');
    expect(log).to.not.include('app answers HTTP').and.not.include('waiting for HTTP');
    // Far below the 60 s health timeout a web wait would have cost.
    expect(Date.now() - started).to.be.below(60_000);

    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    expect(app.status).to.equal('running');
    expect(app.formation.running).to.deep.equal({ worker: 1 });
    expect(app.instances.map((i: { process: string }) => i.process)).to.deep.equal(['worker']);
    expect(await containersOf(name, 'web')).to.have.length(0);
    expect(await containersOf(name, 'worker')).to.have.length(1);

    const reply = await until('the proxy to know the app', async () => {
      const r = await viaProxy(gasper.proxyPort, host(name));
      return r.status === 503 ? r : undefined;
    });
    expect(reply.body).to.include('no web process');
    await until('worker lines', async () => {
      const lines = (await gasper.api().get(`/apps/${name}/logs?tail=5`).expect(200)).body.lines as {
        text: string;
        process: string;
      }[];
      return lines.some((l) => l.text === 'lonely worker tick' && l.process === 'worker') ? true : undefined;
    });
  });

  it('gives up on a crash-looping worker like on a web instance: the worker-only app ends crashed', async () => {
    const repo = await createGitRepo({ Procfile: 'worker: echo crashing worker; sleep 0.5; exit 4\n' });
    repos.push(repo);
    const name = unique();
    await completed(
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, runtime: 'node', processes: { web: 0, worker: 1 } })
        .expect(202),
    );
    const app = await until(
      'the app crashed',
      async () => {
        const now = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
        return now.status === 'crashed' ? now : undefined;
      },
      60_000,
    );
    expect(app.lastError).to.include('crash loop').and.include('exited with code 4').and.include('crashing worker');
    expect(app.instances).to.deep.equal([]);
  });
});
