import crypto from 'node:crypto';
import { expect } from 'chai';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type JobView, type TestPlatform } from '../support/platform.ts';

/**
 * Apps built from their Dockerfile (builder-choice.ts, dockerfile-build.ts): `FROM` the locally
 * built node runtime image (no image registry answers here), with no runtime named, deployed,
 * served through the proxy, redeployed, rolled back without a build; a failing step fails the
 * deploy with its output and leaves nothing running; deleting the app removes its images.
 */
describe('Dockerfile builds (Docker, Redis, git)', function () {
  this.timeout(300_000);
  let gasper: TestPlatform;
  const repos: GitFixture[] = [];
  const base = `${process.env.GASPER_IMAGE_PREFIX ?? 'gasper'}/node:latest`;
  const unique = () => `df-${crypto.randomBytes(3).toString('hex')}`;

  const dockerfile = [
    `FROM ${base}`,
    'WORKDIR /srv',
    'ARG GREETING',
    'ARG SECRET',
    // Only the build args the app names reach the build: SECRET stays unset.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell variables of the Dockerfile
    'RUN echo "${GREETING:-none}/${SECRET:-unset}" > /srv/arg.txt',
    'COPY server.js .',
    'COPY . /context/',
    'EXPOSE 3000',
    'CMD ["node", "server.js"]',
    '',
  ].join('\n');
  const server = (version: string) =>
    `const fs = require('fs');
require('http').createServer((req, res) => res.end('${version} ' + fs.readFileSync('/srv/arg.txt', 'utf8').trim() + ' ' + process.env.PORT + '\\n')).listen(process.env.PORT);
`;

  before(async () => {
    await requireDocker();
    await docker.getImage(base).inspect();
    gasper = await startTestPlatform({ GASPER_HEALTH_TIMEOUT_MS: '60000' });
  });
  after(async () => {
    await gasper?.close();
    await Promise.all(repos.map((r) => r.remove()));
  });

  const get = async (name: string) =>
    (await viaProxy(gasper.proxyPort, `${name}.localhost:${gasper.proxyPort}`, '/')).body.trim();
  const completed = async (res: { body: { job: { id: string } } }): Promise<JobView> => {
    const job = await gasper.waitForJob(res.body.job.id, 240_000);
    expect(job.state, job.log.join('\n')).to.equal('completed');
    return job;
  };
  const imagesOf = (app: string) => docker.listImages({ filters: JSON.stringify({ label: [`io.gasper.app=${app}`] }) });

  it('builds, serves, redeploys and rolls back without a rebuild; deleting the app removes its images', async () => {
    const repo = await createGitRepo({ Dockerfile: dockerfile, 'server.js': server('v1') });
    repos.push(repo);
    const name = unique();
    const first = await completed(
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, env: { GREETING: 'hi', SECRET: 'hunter2' }, buildArgs: ['GREETING'] })
        .expect(202),
    );
    const log = first.log.join('\n');
    expect(log).to.include('builder: dockerfile (Dockerfile found at the repository root)');
    expect(log).to.include('build args: GREETING');
    // This daemon (cgroup v1, cgroupfs) holds the steps to the build's pids limit (build-pids-plan.ts).
    expect(log).to.include(
      'pids: the RUN steps together run at most 1024 processes and threads (GASPER_BUILD_PIDS_LIMIT)',
    );
    expect(log).to.match(/Step \d+\/\d+ : RUN echo/);
    expect(log).to.include("port: 3000 (the image's EXPOSE)");
    expect(log).to.not.include('hunter2');
    // The labels are one step (build-context.ts), and the Dockerfile Gasper sends is not in the image.
    expect(log.match(/Step \d+\/\d+ : LABEL /g)).to.have.length(1);
    expect(await get(name)).to.equal('v1 hi/unset 3000');

    const images = await imagesOf(name);
    expect(images).to.have.length(1);
    expect(images[0]!.Labels)
      .to.have.property('io.gasper.installation')
      .that.matches(/^[0-9a-f]{8}$/);
    expect(images[0]!.RepoTags![0]).to.match(new RegExp(`-app/[0-9a-f]{8}-${name}:r000001$`));
    const [container] = await managedContainers(gasper.nodeId, name);
    const inspect = await docker.getContainer(container!.Id).inspect();
    expect(inspect.HostConfig.CapDrop).to.deep.equal(['ALL']);
    const listing = await docker
      .getContainer(container!.Id)
      .exec({ Cmd: ['ls', '-A', '/context'], AttachStdout: true, AttachStderr: true });
    const output = await new Promise<string>((resolve, reject) =>
      listing.start({}, (err, stream) => {
        if (err || !stream) return reject(err);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      }),
    );
    expect(output).to.include('server.js');
    expect(output).to.include('Dockerfile');
    expect(output).to.not.include('.gasper.Dockerfile');
    expect(inspect.HostConfig.Memory).to.be.greaterThan(0);

    await repo.commit({ 'server.js': server('v2') });
    const cached = await completed(await gasper.api().post(`/apps/${name}/rebuild`).expect(202));
    // The steps before the changed COPY come from the first image's layers.
    expect(cached.log.join('\n')).to.match(/cache: this app's images only[\s\S]*Using cache/);
    expect(await get(name)).to.equal('v2 hi/unset 3000');
    expect(await imagesOf(name)).to.have.length(2);
    // cache: false (`gasper apps rebuild --no-cache`): every step again, no earlier layer.
    const fresh = await completed(await gasper.api().post(`/apps/${name}/rebuild`).send({ cache: false }).expect(202));
    expect(fresh.log.join('\n')).to.include('cache: none (cache: false: every step built from nothing)');
    expect(fresh.log.join('\n')).not.to.include('Using cache');
    expect(await get(name)).to.equal('v2 hi/unset 3000');

    const started = Date.now();
    const rollback = await completed(
      await gasper.api().post(`/apps/${name}/rollback`).send({ release: 'r000001' }).expect(202),
    );
    const rollbackMs = Date.now() - started;
    expect(rollback.log.join('\n')).to.not.match(/cloned|building|Step \d/);
    expect(await get(name)).to.equal('v1 hi/unset 3000');
    console.log(`      rollback without a rebuild: ${rollbackMs} ms`);

    await completed(await gasper.api().delete(`/apps/${name}`).expect(202));
    expect(await imagesOf(name)).to.have.length(0);
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
  });

  it("a failing step fails the deploy with the step's output and leaves nothing running", async () => {
    const repo = await createGitRepo({
      Dockerfile: `FROM ${base}\nRUN echo this-step-breaks && exit 3\nCMD ["node", "-e", "0"]\n`,
    });
    repos.push(repo);
    const name = unique();
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url }, builder: 'dockerfile' })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id, 240_000);
    expect(job.state).to.equal('failed');
    expect(job.log.join('\n')).to.include('this-step-breaks');
    expect(job.error).to.include('the Docker build failed').and.include('returned a non-zero code: 3');
    // The step's title and its output, with no blank lines between Docker's steps taking the tail's room.
    expect(job.error).to.match(/Step \d+\/\d+ : RUN echo this-step-breaks/);
    expect(job.error).not.to.include('\n\n');
    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    expect(app.status).to.equal('failed');
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
    expect(await imagesOf(name)).to.have.length(0);
  });

  it('an app with neither a Dockerfile nor a runtime: 400 naming runtime, or a failed deploy saying both options', async () => {
    const bad = await gasper
      .api()
      .post('/apps')
      .send({ name: unique(), repo: { url: 'file:///nowhere' }, builder: 'runtime' })
      .expect(400);
    expect(JSON.stringify(bad.body)).to.include('runtime').and.include('Dockerfile');
    const outside = await gasper
      .api()
      .post('/apps')
      .send({ name: unique(), repo: { url: 'file:///nowhere' }, dockerfile: { path: '../Dockerfile' } })
      .expect(400);
    expect(JSON.stringify(outside.body)).to.include('dockerfile.path');

    // `auto` without a runtime: only the clone tells, so the deploy fails with the same words.
    const repo = await createGitRepo({ 'index.html': 'hello\n' });
    repos.push(repo);
    const name = unique();
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url } })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id, 120_000);
    expect(job.state).to.equal('failed');
    expect(job.error).to.include('runtime:').and.include('add a Dockerfile');
    // The repository's files suggest the runtime to name, and the PATCH that gives it.
    expect(job.error).to.include(`give the app runtime "static" as its index.html suggests (PATCH /apps/${name}`);
    const given = await gasper.api().patch(`/apps/${name}`).send({ runtime: 'static' }).expect(202);
    expect(given.body.changed).to.deep.equal(['runtime']);
    const redeployed = await gasper.waitForJob(given.body.job.id, 120_000);
    expect(redeployed.state, redeployed.log.join('\n')).to.equal('completed');
    expect((await viaProxy(gasper.proxyPort, `${name}.localhost:${gasper.proxyPort}`, '/')).body).to.equal('hello\n');
    expect((await gasper.api().get(`/apps/${name}`).expect(200)).body.app.runtime).to.equal('static');
  });
});
