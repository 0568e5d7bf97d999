import crypto from 'node:crypto';
import { expect } from 'chai';
import { runtimeCatalog } from '../../src/core/runtime-catalog.ts';
import { requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

/**
 * Node versions through the whole platform: three apps asking for 20.x, 22.x and 24.x in
 * `engines.node` each answer with that `process.version` through the proxy, and one asking for a
 * version this platform has not fails with a message naming the versions there are. The images
 * are `<prefix>/node:<major>` (docker/build-images.sh); GASPER_IMAGE_PREFIX chooses the prefix
 * (test/support/platform.ts).
 */
describe('node versions: engines.node chooses the image (Docker, Redis, git)', function () {
  this.timeout(600_000);
  let gasper: TestPlatform;
  const repos: GitFixture[] = [];
  const node = runtimeCatalog.node!;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({ GASPER_HEALTH_TIMEOUT_MS: '60000' });
  });
  after(async () => {
    await gasper?.close();
    await Promise.all(repos.map((r) => r.remove()));
  });

  async function deploy(engines: string) {
    const repo = await createGitRepo({
      'package.json': JSON.stringify({
        name: 'versions',
        version: '1.0.0',
        engines: { node: engines },
        scripts: { start: 'node server.js' },
      }),
      'server.js': "require('http').createServer((req, res) => res.end(process.version)).listen(process.env.PORT);\n",
    });
    repos.push(repo);
    const name = `nv-${crypto.randomBytes(3).toString('hex')}`;
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url }, runtime: 'node' })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id, 540_000);
    return { name, job, log: job.log.join('\n') };
  }

  for (const major of ['20', '22', '24'])
    it(`engines.node "${major}.x" answers with Node ${node.exact[major]}`, async () => {
      const { name, job, log } = await deploy(`${major}.x`);
      expect(job.state, log).to.equal('completed');
      expect(log).to.include(`runtime: Node ${major} (from engines.node "${major}.x" in package.json)`);
      const reply = await viaProxy(gasper.proxyPort, `${name}.localhost:${gasper.proxyPort}`, '/');
      expect(reply.status).to.equal(200);
      expect(reply.body).to.equal(`v${node.exact[major]}`);
    });

  it('a version this platform has not fails, naming the versions there are', async () => {
    const { name, job, log } = await deploy('>=26');
    expect(job.state).to.equal('failed');
    const message = 'engines.node ">=26" in package.json: this platform has Node 20 (';
    expect(job.error ?? '').to.include(message);
    expect(log).to.include(message);
    const app = await gasper.api().get(`/apps/${name}`).expect(200);
    expect(app.body.app.lastError).to.include(message);
  });

  it('GET /runtimes lists the versions and the default', async () => {
    const res = await gasper.api().get('/runtimes').expect(200);
    const listed = res.body.runtimes.find((r: { name: string }) => r.name === 'node');
    expect(listed.versions.map((v: { version: string }) => v.version)).to.deep.equal(['20', '22', '24']);
    expect(listed.default).to.equal('24');
    expect(listed.chosenBy[0]).to.equal('.node-version');
  });
});
