import crypto from 'node:crypto';
import { expect } from 'chai';
import { containerLabels } from '../../src/core/naming.ts';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

/**
 * Two installations on one Docker daemon whose workers share a node id (the default, the host
 * name, makes that the usual case): each reconciles every second, and neither touches the other's
 * containers, nor one nobody labelled with an installation.
 */
describe('two installations on one Docker daemon with the same node id', function () {
  this.timeout(240_000);
  const node = `t-${crypto.randomBytes(4).toString('hex')}`;
  const env = { GASPER_NODE_ID: node, GASPER_RECONCILE_INTERVAL_MS: '1000' };
  let a: TestPlatform;
  let b: TestPlatform;
  let repo: GitFixture;
  let unlabelled: string | undefined;

  before(async () => {
    await requireDocker();
    repo = await createGitRepo(helloNodeApp('hello'));
    [a, b] = await Promise.all([startTestPlatform(env), startTestPlatform(env)]);
  });
  after(async () => {
    if (unlabelled)
      await docker
        .getContainer(unlabelled)
        .remove({ force: true })
        .catch(() => {});
    await b?.close();
    await a?.close();
    await repo?.remove();
  });

  it('both apps keep serving through several reconciliations, no container restarted or removed', async () => {
    const name = `twin-${crypto.randomBytes(3).toString('hex')}`;
    // The same app name on both: container names must not collide either.
    for (const gasper of [a, b]) {
      const res = await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' })
        .expect(202);
      const job = await gasper.waitForJob(res.body.job.id);
      expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
    }
    // A container with Gasper's old labels but no installation: an older version's, or anyone's.
    const orphan = await docker.createContainer({
      Image: 'gasper/node:latest',
      Cmd: ['sleep', 'infinity'],
      Labels: {
        [containerLabels.managed]: 'true',
        [containerLabels.node]: node,
        [containerLabels.app]: 'nobody',
        [containerLabels.role]: 'app',
        [containerLabels.release]: 'r000001',
      },
    });
    unlabelled = orphan.id;
    await orphan.start();

    const containers = await managedContainers(node);
    const installations = new Set(containers.map((c) => c.Labels[containerLabels.installation]).filter(Boolean));
    expect(installations.size, 'two installation ids').to.equal(2);
    const started = new Map(
      await Promise.all(
        containers.map(async (c) => [c.Id, (await docker.getContainer(c.Id).inspect()).State.StartedAt] as const),
      ),
    );

    await new Promise((r) => setTimeout(r, 6000));

    for (const gasper of [a, b]) {
      const reply = await viaProxy(gasper.proxyPort, `${name}.localhost:${gasper.proxyPort}`);
      expect(reply.status).to.equal(200);
      const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
      expect(app.status).to.equal('running');
      expect(app.restarts ?? 0).to.equal(0);
    }
    const after = await managedContainers(node);
    expect(after.map((c) => c.Id).sort()).to.deep.equal([...started.keys()].sort());
    for (const c of after) {
      const info = await docker.getContainer(c.Id).inspect();
      expect(info.State.Running, c.Names[0]).to.equal(true);
      expect(info.State.StartedAt, c.Names[0]).to.equal(started.get(c.Id));
    }
  });
});
