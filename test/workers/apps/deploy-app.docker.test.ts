import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { scopeLabels } from '../../../src/core/installation.ts';
import { keys, bullPrefix } from '../../../src/core/keys.ts';
import { createLogger } from '../../../src/core/log.ts';
import { connectRedis } from '../../../src/core/redis.ts';
import { createSecretBox } from '../../../src/core/secret-box.ts';
import { deployAppJob, type DeployAppData } from '../../../src/jobs/schemas.ts';
import type { AppDocument } from '../../../src/store/app-document.ts';
import { AppStore } from '../../../src/store/apps.ts';
import type { WorkerContext } from '../../../src/workers/context.ts';
import { deleteApp } from '../../../src/workers/apps/delete-app.ts';
import { deployApp } from '../../../src/workers/apps/deploy-app.ts';
import { ReleaseDirs } from '../../../src/workers/apps/releases.ts';
import { loadConfig } from '../../../src/core/config.ts';
import { ReleaseStore } from '../../../src/store/release-records.ts';
import { docker, managedContainers, removeNodeContainers, requireDocker } from '../../support/docker.ts';
import { createGitRepo, helloNodeApp, type GitFixture } from '../../support/git-fixture.ts';
import { startTestRedis } from '../../support/redis.ts';

/**
 * The deploy and delete steps run twice, as BullMQ runs them after a crash or a stalled job:
 * the second run converges on the same containers instead of adding to them.
 */
describe('deploy and delete steps are idempotent (Docker, Redis)', function () {
  this.timeout(120_000);
  let redisServer: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let queue: Queue;
  let repo: GitFixture;
  let stateDir: string;
  let ctx: WorkerContext;
  const node = `t-${crypto.randomBytes(4).toString('hex')}`;
  const installation = crypto.randomBytes(4).toString('hex');

  before(async () => {
    await requireDocker();
    redisServer = await startTestRedis();
    redis = connectRedis(redisServer.url);
    queue = new Queue(`node-${node}`, { connection: redis, prefix: bullPrefix });
    repo = await createGitRepo(helloNodeApp());
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-state-'));
    const secrets = createSecretBox(crypto.randomBytes(32).toString('hex'));
    ctx = {
      docker,
      redis,
      apps: new AppStore(redis),
      releases: new ReleaseDirs(stateDir),
      records: new ReleaseStore(redis),
      secrets,
      log: createLogger('silent'),
      options: {
        nodeId: node,
        nodeAddress: '127.0.0.1',
        allowLocalRepos: true,
        extraCaCerts: undefined,
        imagePrefix: 'gasper',
        runtimeImages: {},
        healthTimeoutMs: 20_000,
        buildTimeoutMs: 60_000,
        keepReleases: 5,
        lifecycle: { ...loadConfig({}).lifecycle, drainGraceMs: 0 },
      },
      scope: { installation, node },
    };
  });
  after(async () => {
    await removeNodeContainers(node);
    await queue?.close();
    redis?.disconnect();
    await redisServer?.close();
    await repo?.remove();
    if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
  });

  async function createApp(name: string): Promise<{ job: Job; data: DeployAppData }> {
    const now = new Date().toISOString();
    const doc: AppDocument = {
      name,
      uid: crypto.randomBytes(5).toString('hex'),
      owner: 'admin',
      repo: { url: repo.url },
      runtime: 'node',
      run: 'node server.js',
      port: 8080,
      sealedEnv: {},
      node,
      status: 'queued',
      pendingRelease: 'r000001',
      instances: [],
      createdAt: now,
      updatedAt: now,
    };
    expect(await ctx.apps.create(doc, 1)).to.equal(true);
    const data = { app: name, uid: doc.uid, release: 'r000001' };
    const job = await queue.add(deployAppJob.name, data, { jobId: `deploy-${name}` });
    return { job, data };
  }

  it('a deploy re-run after a crash before the switch reuses its container and routes once', async () => {
    const name = `idem-${crypto.randomBytes(3).toString('hex')}`;
    const { job, data } = await createApp(name);
    const first = await deployApp(ctx, job, data);
    expect(first.outcome).to.equal('deployed');
    const [container] = await managedContainers(node, name);

    // The worker died after starting the container but before recording the switch: neither the
    // document nor the rollout's outcome (written after the document) says it switched.
    await ctx.apps.update(name, (d) => ({
      ...d,
      status: 'deploying',
      pendingRelease: 'r000001',
      release: undefined,
      instances: [],
    }));
    await redis.hdel(keys.appRollout(name, 'deploy-r000001'), 'outcome');
    const second = await deployApp(ctx, job, data);
    expect(second.outcome).to.equal('deployed');
    const containers = await managedContainers(node, name);
    expect(containers.map((c) => c.Id)).to.deep.equal([container!.Id]);
    expect(containers[0]!.State).to.equal('running');

    // A third run finds the release running and changes nothing.
    expect((await deployApp(ctx, job, data)).outcome).to.equal('unchanged');
    expect(await managedContainers(node, name)).to.have.length(1);
    const latest = JSON.parse((await redis.hget(keys.eventsLatest, `app:${name}`))!);
    expect(latest.instances).to.have.length(1);
  });

  it('a deploy replaces a leftover container of the same name that was created from another spec', async () => {
    const name = `stale-${crypto.randomBytes(3).toString('hex')}`;
    const { job, data } = await createApp(name);
    const stale = await docker.createContainer({
      name: `gasper-${installation}-${name}-r000001-0`,
      Image: 'gasper/node:latest',
      Cmd: ['sleep', 'infinity'],
      Labels: { ...scopeLabels(ctx.scope), 'io.gasper.app': name, 'io.gasper.spec-hash': 'old' },
    });
    expect((await deployApp(ctx, job, data)).outcome).to.equal('deployed');
    const containers = await managedContainers(node, name);
    expect(containers).to.have.length(1);
    expect(containers[0]!.Id).to.not.equal(stale.id);
  });

  it('a deploy never replaces a container of its name that another installation (or nobody) labelled', async () => {
    const name = `foreign-${crypto.randomBytes(3).toString('hex')}`;
    const { job, data } = await createApp(name);
    const foreign = await docker.createContainer({
      name: `gasper-${installation}-${name}-r000001-0`,
      Image: 'gasper/node:latest',
      Cmd: ['sleep', 'infinity'],
      Labels: {
        ...scopeLabels({ installation: 'ffffffff', node }),
        'io.gasper.app': name,
        'io.gasper.spec-hash': 'old',
      },
    });
    try {
      const failure = await deployApp(ctx, job, data).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(failure?.message).to.match(/is not this installation's/);
      expect((await docker.getContainer(foreign.id).inspect()).Id).to.equal(foreign.id);
    } finally {
      await docker.getContainer(foreign.id).remove({ force: true });
    }
  });

  it('a deploy of an app deleted meanwhile, or of another incarnation of its name, does nothing', async () => {
    const name = `gone-${crypto.randomBytes(3).toString('hex')}`;
    const { job, data } = await createApp(name);
    expect((await deployApp(ctx, job, { ...data, uid: 'someone-else' })).outcome).to.equal('skipped');
    await ctx.apps.update(name, (d) => ({ ...d, status: 'deleting' }));
    expect((await deployApp(ctx, job, data)).outcome).to.equal('skipped');
    expect(await managedContainers(node, name)).to.have.length(0);
  });

  it('a delete re-run after it finished once is harmless', async () => {
    const name = `del-${crypto.randomBytes(3).toString('hex')}`;
    const { job, data } = await createApp(name);
    expect((await deployApp(ctx, job, data)).outcome).to.equal('deployed');
    await ctx.apps.update(name, (d) => ({ ...d, status: 'deleting' }));
    const deleteJob = await queue.add('delete-app', { app: name, uid: data.uid }, { jobId: `delete-${name}` });
    expect(await deleteApp(ctx, deleteJob, { app: name, uid: data.uid })).to.deep.equal({
      outcome: 'deleted',
      containers: 1,
    });
    expect(await deleteApp(ctx, deleteJob, { app: name, uid: data.uid })).to.deep.equal({
      outcome: 'deleted',
      containers: 0,
    });
    expect(await managedContainers(node, name)).to.have.length(0);
    expect(await redis.exists(keys.app(name))).to.equal(0);
  });
});
