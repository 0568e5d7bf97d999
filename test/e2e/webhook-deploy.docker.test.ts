import crypto from 'node:crypto';
import { expect } from 'chai';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import { requireDocker } from '../support/docker.ts';
import { deliver, pushPayload } from '../support/github-webhooks.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

/**
 * A GitHub push, end to end: a signed delivery (GitHub's example payload, adjusted to a local
 * repository) → deploy job of the pushed commit → worker clones exactly that commit → proxy.
 */
describe('push webhook deploys the pushed commit (Docker, Redis, git)', function () {
  this.timeout(180_000);
  let gasper: TestPlatform;
  let repo: GitFixture;

  before(async () => {
    await requireDocker();
    // A machine shared with other test runs can be slow to start a container.
    gasper = await startTestPlatform({ GASPER_HEALTH_TIMEOUT_MS: '60000' });
    repo = await createGitRepo(helloNodeApp('v1'));
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
  });

  it('deploys exactly the pushed commit, not the branch head, and the proxy serves it', async () => {
    const name = `hook-${crypto.randomBytes(3).toString('hex')}`;
    const host = `${name}.localhost:${gasper.proxyPort}`;
    const created = await gasper
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url, branch: 'main' }, runtime: 'node' })
      .expect(202);
    const first = await gasper.waitForJob(created.body.job.id);
    expect(first.state, first.log.join('\n')).to.equal('completed');
    expect((await viaProxy(gasper.proxyPort, host)).body).to.equal('v1 world\n');

    const hook = (await gasper.api().post(`/apps/${name}/webhook`).expect(201)).body;
    expect(hook.url).to.equal(`${gasper.apiUrl}/webhooks/github/${name}`);

    // Two commits land; the delivery is for the first, so the head must not be what deploys.
    const pushed = await repo.commit(helloNodeApp('v2'), 'v2');
    await repo.commit(helloNodeApp('v3'), 'v3');
    const delivery = crypto.randomUUID();
    const send = () =>
      deliver(gasper.apiUrl, new URL(hook.url).pathname, {
        event: 'push',
        secret: hook.secret,
        delivery,
        payload: pushPayload({ ref: 'refs/heads/main', after: pushed, repoUrl: repo.url }),
      });
    const res = await send();
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body).to.include({ commit: pushed, release: 'r000002' });

    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, job.log.join('\n')).to.equal('completed');
    expect(job.log.join('\n')).to.include(`at ${pushed.slice(0, 12)}`);
    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    expect(app).to.include({ status: 'running', release: 'r000002', commit: pushed });
    expect((await viaProxy(gasper.proxyPort, host)).body).to.equal('v2 world\n');

    // GitHub redelivering the same delivery changes nothing.
    const again = await send();
    expect(again.status).to.equal(200);
    expect(again.body.job.id).to.equal(res.body.job.id);
    expect((await gasper.api().get(`/apps/${name}`)).body.app.release).to.equal('r000002');
  });
});
