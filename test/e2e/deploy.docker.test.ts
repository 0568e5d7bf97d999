import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';
import { heldCommand } from '../../src/workers/apps/launcher.ts';

/**
 * The spine, end to end with real parts: REST call → BullMQ job → node worker → Docker →
 * event stream → proxy, against a local git repository.
 */
describe('deploy through the API (Docker, Redis, git)', function () {
  this.timeout(180_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  let commit: string;
  const unique = () => `e2e-${crypto.randomBytes(3).toString('hex')}`;
  const host = (app: string) => `${app}.localhost:${gasper.proxyPort}`;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform();
    repo = await createGitRepo(helloNodeApp('hello'));
    commit = (await repo.commit({ 'README.md': 'fixture\n' })).trim();
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
  });

  async function deploy(body: Record<string, unknown>) {
    const res = await gasper.api().post('/apps').send(body).expect(202);
    return { res, job: await gasper.waitForJob(res.body.job.id) };
  }

  it('deploys a git repository and serves it through the proxy by Host header', async () => {
    const name = unique();
    const { res, job } = await deploy({
      name,
      repo: { url: repo.url, branch: 'main' },
      runtime: 'node',
      run: 'node server.js',
      env: { GREETING: 'gasper' },
    });
    // The worker may take the job before the API writes its answer.
    expect(res.body.app.status).to.be.oneOf(['queued', 'deploying']);
    expect(job.state, job.log.join('\n')).to.equal('completed');
    expect(job.progress).to.deep.equal({ percent: 100, step: 'deployed' });
    expect(job.log.join('\n'))
      .to.match(/cloned .* at [0-9a-f]{12}/)
      .and.match(/app answers HTTP \(\d+ ms\)/);

    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    expect(app.status).to.equal('running');
    expect(app.commit).to.equal(commit);
    expect(app.instances).to.have.length(1);
    expect(app.instances[0]).to.include({ node: gasper.nodeId, host: '127.0.0.1' });

    const reply = await viaProxy(gasper.proxyPort, host(name));
    expect(reply.status).to.equal(200);
    expect(reply.body).to.equal('hello gasper\n');
    const seen = JSON.parse((await viaProxy(gasper.proxyPort, host(name), '/headers')).body);
    expect(seen['x-forwarded-host']).to.equal(host(name));
    expect(seen['x-forwarded-proto']).to.equal('http');
    expect(seen['x-forwarded-for']).to.equal('127.0.0.1');

    const containers = await managedContainers(gasper.nodeId, name);
    expect(containers).to.have.length(1);
    expect(containers[0]!.State).to.equal('running');
    // The run command is the container's main process; the worker's supervisor restarts it, not Docker.
    const info = await docker.getContainer(containers[0]!.Id).inspect();
    expect(info.HostConfig.RestartPolicy?.Name).to.equal('no');
    expect(info.HostConfig).to.include({ Memory: 512 * 1024 * 1024, MemorySwap: 512 * 1024 * 1024, NanoCpus: 1e9 });
    // Started during the clone, held until the release was ready (launcher.ts), then exec'd: under
    // the image's init (tini) run the processes of `sh -c 'node server.js'`, and nothing else.
    expect(info.Config.Cmd).to.deep.equal(['sh', '-c', heldCommand('node server.js')]);
    const top = await docker.getContainer(containers[0]!.Id).top();
    const commandColumn = top.Titles.indexOf('CMD');
    const commands = (top.Processes as string[][])
      .map((p) => p[commandColumn]!)
      .filter((c) => !c.startsWith('/usr/bin/tini '));
    expect(commands).to.deep.equal(['sh -c node server.js', 'node server.js']);
    expect(info.HostConfig.PortBindings?.['8080/tcp']?.[0]?.HostIp).to.equal('127.0.0.1');
  });

  it('runs build commands in the runtime image and streams their output into the job log', async () => {
    const name = unique();
    const { job } = await deploy({
      name,
      repo: { url: repo.url },
      runtime: 'node',
      build: ['echo "built at $(date +%s)" > built.txt', 'echo build-output-line', 'node --version'],
      run: 'node server.js',
    });
    expect(job.state, job.log.join('\n')).to.equal('completed');
    expect(job.log.join('\n')).to.include('$ echo build-output-line').and.include('  build-output-line');
    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    const built = await fs.readFile(
      path.join(gasper.stateDir, 'apps', name, 'releases', app.release, 'built.txt'),
      'utf8',
    );
    expect(built).to.match(/^built at \d+/);
  });

  it('installs dependencies from the npm registry during the build (extra CA bundle mounted)', async () => {
    const name = unique();
    const { job } = await deploy({
      name,
      repo: { url: repo.url },
      runtime: 'node',
      build: ['npm install --no-audit --no-fund --loglevel=error is-number@7.0.0'],
      run: 'node -e "require(\'is-number\')" && node server.js',
    });
    expect(job.state, job.log.join('\n')).to.equal('completed');
    expect((await viaProxy(gasper.proxyPort, host(name))).status).to.equal(200);
  });

  it('fails a deploy whose build fails, with its output, without retrying, and leaves nothing behind', async () => {
    const name = unique();
    const { job } = await deploy({
      name,
      repo: { url: repo.url },
      runtime: 'node',
      build: ['echo compiling', 'echo "error: no such module" >&2; exit 3'],
    });
    expect(job.state).to.equal('failed');
    expect(job.error).to.include('exited with code 3').and.include('error: no such module');
    const attempts = (await gasper.api().get(`/jobs/${job.id}`).expect(200)).body.job.attempts;
    expect(attempts.made).to.equal(1);

    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    expect(app.status).to.equal('failed');
    expect(app.lastError).to.include('exited with code 3');
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
    await expectMissing(path.join(gasper.stateDir, 'apps', name));
    expect((await viaProxy(gasper.proxyPort, host(name))).status).to.equal(404);
  });

  it("fails a deploy whose app exits before answering HTTP, with the app's last lines", async () => {
    const name = unique();
    const { job } = await deploy({
      name,
      repo: { url: repo.url },
      runtime: 'node',
      run: 'echo "listening soon"; echo "fatal: missing DATABASE_URL" >&2; exit 1',
    });
    expect(job.state).to.equal('failed');
    expect(job.error).to.include('app exited before answering HTTP').and.include('fatal: missing DATABASE_URL');
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
  });

  it("fails a deploy whose repository cannot be cloned, naming git's reason", async () => {
    const name = unique();
    const { job } = await deploy({ name, repo: { url: `${repo.url}-missing` }, runtime: 'node' });
    expect(job.state).to.equal('failed');
    expect(job.error).to.include('git clone failed');
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
  });

  it('deletes an app: containers, release directories, route and keys are gone; the name can be reused', async () => {
    const name = unique();
    const { job } = await deploy({ name, repo: { url: repo.url }, runtime: 'static' });
    expect(job.state, job.log.join('\n')).to.equal('completed');
    expect((await viaProxy(gasper.proxyPort, host(name), '/README.md')).body).to.equal('fixture\n');

    const res = await gasper.api().delete(`/apps/${name}`).expect(202);
    expect(res.body.app.status).to.equal('deleting');
    const deleted = await gasper.waitForJob(res.body.job.id);
    expect(deleted.state, deleted.log.join('\n')).to.equal('completed');

    await gasper.api().get(`/apps/${name}`).expect(404);
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
    await expectMissing(path.join(gasper.stateDir, 'apps', name));
    expect((await viaProxy(gasper.proxyPort, host(name))).status).to.equal(404);
    const redis = new Redis(gasper.platform.redisUrl);
    try {
      expect(await redis.keys(`gasper:app:${name}*`)).to.deep.equal([]);
      expect(await redis.sismember('gasper:apps', name)).to.equal(0);
      expect(await redis.hexists('gasper:events:latest', `app:${name}`)).to.equal(0);
    } finally {
      redis.disconnect();
    }

    // The same name again is a new app: its jobs must not collide with the deleted one's.
    const again = await deploy({ name, repo: { url: repo.url }, runtime: 'static' });
    expect(again.job.state, again.job.log.join('\n')).to.equal('completed');
    expect(again.job.id).to.not.equal(job.id);
    expect((await viaProxy(gasper.proxyPort, host(name), '/README.md')).status).to.equal(200);
  });
});

async function expectMissing(file: string): Promise<void> {
  const exists = await fs.stat(file).then(
    () => true,
    () => false,
  );
  expect(exists, `${file} should not exist`).to.equal(false);
}
