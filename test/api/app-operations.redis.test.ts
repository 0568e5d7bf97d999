import { expect } from 'chai';
import supertest from 'supertest';
import { keys } from '../../src/core/keys.ts';
import { ReleaseStore, type ReleaseRecord } from '../../src/store/release-records.ts';
import {
  appName,
  expectError,
  expectFieldError,
  startApiFixture,
  suffix,
  validBody,
  type ApiFixture,
} from './api-fixture.ts';

/**
 * The operation routes in-process with real Redis and BullMQ queues and no worker: jobs stay
 * waiting, which is what lets these tests see that a repeated request returns the same job.
 */
describe('API app operations (real Redis, real BullMQ queues)', function () {
  let fx: ApiFixture;
  let nodeId: string;
  let records: ReleaseStore;
  const patch = (path: string) => supertest(fx.app).patch(path).set('authorization', `Bearer ${fx.token}`);

  before(async function () {
    fx = await startApiFixture();
    nodeId = `n-${suffix()}`;
    await fx.registerNode(nodeId);
    records = new ReleaseStore(fx.redis);
  });
  after(async function () {
    await fx?.close();
  });

  async function createApp(extra: Record<string, unknown> = {}) {
    const name = appName('op');
    const res = await fx.post('/apps').send(validBody(name, extra)).expect(202);
    return { name, job: res.body.job.id as string };
  }
  /** Pretends a worker deployed release `release` of the app. */
  async function markDeployed(name: string, release = 'r000001') {
    await fx.apps.update(name, (d) => ({ ...d, status: 'running', release, pendingRelease: undefined }));
  }
  function record(app: string, id: string, patchRecord: Partial<ReleaseRecord> = {}): ReleaseRecord {
    return {
      id,
      app,
      status: 'superseded',
      commit: `c-${id}`,
      sealedEnv: { S: 'sealed' },
      buildLog: ['line'],
      onDisk: true,
      config: {
        runtime: 'node',
        image: 'gasper/node:latest',
        repo: { url: 'file:///x' },
        build: [],
        run: 'npm start',
        port: 8080,
        env: { S: '••••••' },
        instances: 1,
        resources: { cpu: 1, memory: 512 },
        healthCheck: {},
      },
      timings: { createdAt: '2026-01-01T00:00:00Z', activatedAt: ['2026-01-01T00:00:01Z'] },
      ...patchRecord,
    };
  }

  describe('validation', function () {
    const bad: [string, Record<string, unknown>, string][] = [
      ['instances 0', { instances: 0 }, 'instances'],
      ['instances above GASPER_MAX_INSTANCES', { instances: 11 }, 'instances'],
      ['instances not an integer', { instances: 1.5 }, 'instances'],
      ['memory below the minimum', { resources: { memory: 16 } }, 'resources.memory'],
      ['memory above the maximum', { resources: { memory: 100_000 } }, 'resources.memory'],
      ['cpu above the maximum', { resources: { cpu: 64 } }, 'resources.cpu'],
      ['an unknown resource', { resources: { disk: 1 } }, 'resources.disk'],
      ['a health path without /', { healthCheck: { path: 'healthz' } }, 'healthCheck.path'],
      ['a health path with a space', { healthCheck: { path: '/a b' } }, 'healthCheck.path'],
      ['a bad env name', { env: { '1X': 'v' } }, 'env.1X'],
      ['PORT in env', { env: { PORT: '1' } }, 'env.PORT'],
      ['an unknown field', { repository: { url: 'https://x/y.git' } }, 'repository'],
      ['a repo url git would run as a command', { repo: { url: 'ext::sh -c id' } }, 'repo.url'],
      ['a repo url with an option for ssh', { repo: { url: 'ssh://%2DoProxyCommand=x/r.git' } }, 'repo.url'],
      ['a metadata address as the repository', { repo: { url: 'http://169.254.169.254/r.git' } }, 'repo.url'],
      ['a branch git refuses', { repo: { branch: 'a..b' } }, 'repo.branch'],
      ['a folder outside the repository', { repo: { path: '../up' } }, 'repo.path'],
      ['an empty repo change', { repo: {} }, 'repo'],
      ['a token user name without a token', { repo: { username: 'alice' } }, 'repo.username'],
      ['a token for a git:// repository', { repo: { url: 'git://example.com/r.git', token: 't0k3n' } }, 'repo.token'],
      [
        'credentials in the URL and a token',
        { repo: { url: 'https://a:b@example.com/r.git', token: 't0k3n' } },
        'repo.url',
      ],
      ['an empty run command', { run: '' }, 'run'],
      ['an unknown builder', { builder: 'nixpacks' }, 'builder'],
      ['a Dockerfile outside the repository', { dockerfile: { path: '../Dockerfile' } }, 'dockerfile.path'],
      ['a bad build arg name', { buildArgs: ['A-B'] }, 'buildArgs.0'],
    ];
    for (const [what, body, field] of bad) {
      it(`PATCH with ${what} -> 400 naming ${field}, nothing changed`, async function () {
        const { name } = await createApp();
        const before = await fx.snapshot();
        expectFieldError(await patch(`/apps/${name}`).send(body), field);
        await fx.expectNothingCreated(before);
      });
    }

    it('PATCH with an empty body -> 400', async function () {
      const { name } = await createApp();
      expectFieldError(await patch(`/apps/${name}`).send({}), '(body)');
    });

    it('POST /apps checks the same fields', async function () {
      const before = await fx.snapshot();
      const name = appName('bad');
      expectFieldError(await fx.post('/apps').send(validBody(name, { instances: 0 })), 'instances');
      expectFieldError(await fx.post('/apps').send(validBody(name, { resources: { memory: 1 } })), 'resources.memory');
      await fx.expectNothingCreated(before, name);
    });

    it('unknown apps -> 404 on every route', async function () {
      const name = appName('none');
      expectError(await patch(`/apps/${name}`).send({ instances: 2 }), 404, 'NOT_FOUND');
      for (const op of ['restart', 'stop', 'start', 'rebuild', 'rollback'])
        expectError(await fx.post(`/apps/${name}/${op}`), 404, 'NOT_FOUND');
      expectError(await fx.get(`/apps/${name}/releases`), 404, 'NOT_FOUND');
    });

    it('an app being deleted -> 409 APP_BUSY', async function () {
      const { name } = await createApp();
      await fx.del(`/apps/${name}`).expect(202);
      expectError(await fx.post(`/apps/${name}/restart`), 409, 'APP_BUSY');
      expectError(await patch(`/apps/${name}`).send({ instances: 2 }), 409, 'APP_BUSY');
    });
  });

  describe('PATCH /apps/:name', function () {
    it('a change that needs new containers enqueues a deploy of a new release; asked again before it starts, the same job', async function () {
      const { name } = await createApp({ resources: { cpu: 0.5 } });
      await markDeployed(name);
      const res = await patch(`/apps/${name}`)
        .send({ env: { GREETING: 'hi' }, instances: 2, resources: { memory: 256 } })
        .expect(202);
      expect(res.body).to.include({ redeploy: true });
      expect(res.body.changed).to.deep.equal(['env', 'instances', 'resources']);
      expect(res.body.job.id).to.match(new RegExp(`^deploy-${name}-[0-9a-f]+-r000002$`));
      expect(res.body.app.envKeys).to.deep.equal(['GREETING']);
      expect(res.body.app.scale).to.deep.equal({
        instances: 2,
        resources: { cpu: 0.5, memory: 256 },
        healthCheck: { path: null },
      });
      const stored = await fx.apps.get(name);
      expect(stored!.sealedEnv.GREETING).to.be.a('string').and.not.equal('hi');
      expect(stored!.pendingRelease).to.equal('r000002');

      const again = await patch(`/apps/${name}`).send({ run: 'node other.js' }).expect(202);
      expect(again.body.job.id).to.equal(res.body.job.id);
      expect((await fx.apps.get(name))!.run).to.equal('node other.js');
      const job = await fx.queues.forNode(nodeId).getJob(res.body.job.id);
      expect(job!.data).to.deep.equal({ app: name, uid: stored!.uid, release: 'r000002' });
    });

    it('builder, dockerfile and buildArgs are stored with the redeploy they start (the deploy reads them from the app)', async function () {
      const { name } = await createApp();
      await markDeployed(name);
      const res = await patch(`/apps/${name}`)
        .send({
          builder: 'dockerfile',
          dockerfile: { path: 'web/Dockerfile', context: 'web' },
          buildArgs: ['GREETING'],
        })
        .expect(202);
      expect(res.body.changed).to.deep.equal(['builder', 'dockerfile', 'buildArgs']);
      const stored = await fx.apps.get(name);
      expect(stored).to.deep.include({
        builder: 'dockerfile',
        dockerfile: { path: 'web/Dockerfile', context: 'web' },
        buildArgs: ['GREETING'],
      });
      const back = await patch(`/apps/${name}`)
        .send({ builder: 'auto', dockerfile: null, buildArgs: null })
        .expect(202);
      expect(back.body.changed).to.deep.equal(['builder', 'dockerfile', 'buildArgs']);
      const reverted = await fx.apps.get(name);
      expect([reverted!.builder, reverted!.dockerfile, reverted!.buildArgs]).to.deep.equal([
        'auto',
        undefined,
        undefined,
      ]);
    });

    it('another repository, branch or folder redeploys from it; the old token never goes to another server', async function () {
      const { name } = await createApp({ repo: { url: 'https://example.com/o/blog.git', token: 'secret-1' } });
      await markDeployed(name);
      const sealed = (await fx.apps.get(name))!.repo.sealedCredentials;
      expect(sealed).to.be.a('string');

      const branch = await patch(`/apps/${name}`)
        .send({ repo: { branch: 'release', path: './web/' } })
        .expect(202);
      expect(branch.body).to.deep.include({ redeploy: true, changed: ['repo.branch', 'repo.path'] });
      expect(branch.body.job.id).to.match(new RegExp(`^deploy-${name}-[0-9a-f]+-r000002$`));
      expect(branch.body.app.repo).to.deep.equal({
        url: 'https://example.com/o/blog.git',
        branch: 'release',
        path: 'web',
        hasToken: true,
      });
      expect((await fx.apps.get(name))!.repo.sealedCredentials).to.equal(sealed);

      // Credentials in the new URL are moved into the sealed secret, as at creation.
      const moved = await patch(`/apps/${name}`)
        .send({ repo: { url: 'https://bob:secret-2@git.other.example/o/blog.git', branch: null } })
        .expect(202);
      expect(moved.body.changed).to.deep.equal(['repo.url', 'repo.branch', 'repo.token']);
      expect(moved.body.app.repo).to.deep.equal({
        url: 'https://git.other.example/o/blog.git',
        path: 'web',
        hasToken: true,
      });
      const stored = await fx.apps.get(name);
      expect(JSON.stringify(stored)).not.to.include('secret-2');
      expect(fx.secrets.open(stored!.repo.sealedCredentials!)).to.include('"token":"secret-2"');

      // Back to the first server without a token: the second server's is dropped, not sent there.
      const back = await patch(`/apps/${name}`)
        .send({ repo: { url: 'https://example.com/o/blog.git' } })
        .expect(202);
      expect(back.body.changed).to.deep.equal(['repo.url', 'repo.token']);
      expect(back.body.app.repo.hasToken).to.equal(false);
    });

    it('a token written as the user name of a new URL (https://<token>@host) is kept sealed, as at creation', async function () {
      const { name } = await createApp({ repo: { url: 'https://example.com/o/blog.git' } });
      await markDeployed(name);
      const res = await patch(`/apps/${name}`)
        .send({ repo: { url: 'https://ghp_solo-token@git.other.example/o/blog.git' } })
        .expect(202);
      expect(res.body.changed).to.deep.equal(['repo.url', 'repo.token']);
      expect(res.body.app.repo).to.deep.equal({ url: 'https://git.other.example/o/blog.git', hasToken: true });
      const stored = await fx.apps.get(name);
      expect(JSON.stringify(stored)).not.to.include('ghp_solo-token');
      expect(JSON.parse(fx.secrets.open(stored!.repo.sealedCredentials!))).to.deep.equal({
        username: 'ghp_solo-token',
        token: '',
      });
    });

    it('a repository on this machine or its networks is refused when local repositories are not', async function () {
      const { name } = await createApp();
      const strict = fx.withOptions({ allowLocalRepos: false });
      const before = await fx.snapshot();
      for (const url of ['git://127.0.0.1:9418/r.git', 'http://10.1.2.3/r.git', 'file:///srv/git/other.git']) {
        const res = await fx.patch(`/apps/${name}`, strict).send({ repo: { url } });
        expectFieldError(res, 'repo.url');
      }
      await fx.expectNothingCreated(before);
    });

    it('a health check change is saved without a job; a change to the same values is no change', async function () {
      const { name } = await createApp();
      await markDeployed(name);
      const before = await fx.snapshot();
      const res = await patch(`/apps/${name}`)
        .send({ healthCheck: { path: '/healthz' } })
        .expect(200);
      expect(res.body).to.deep.include({ redeploy: false, changed: ['healthCheck'] });
      expect(res.body.app.scale.healthCheck).to.deep.equal({ path: '/healthz' });
      const same = await patch(`/apps/${name}`)
        .send({ instances: 1, healthCheck: { path: '/healthz' } })
        .expect(200);
      expect(same.body).to.deep.include({ redeploy: false, changed: [] });
      const after = await fx.snapshot();
      expect(after.jobCounts).to.deep.equal(before.jobCounts);
    });
  });

  describe('operations', function () {
    it('restart/stop/start need a release (409 NO_RELEASE, except stop), and are jobs with fixed ids, deduplicated while waiting', async function () {
      const { name } = await createApp();
      expectError(await fx.post(`/apps/${name}/restart`), 409, 'NO_RELEASE');
      expectError(await fx.post(`/apps/${name}/start`), 409, 'NO_RELEASE');
      await markDeployed(name);
      const uid = (await fx.apps.get(name))!.uid;
      const first = await fx.post(`/apps/${name}/restart`).expect(202);
      expect(first.body.job).to.deep.equal({ id: `restart-${name}-${uid}-1`, url: `/jobs/restart-${name}-${uid}-1` });
      expect((await fx.post(`/apps/${name}/restart`).expect(202)).body.job.id).to.equal(first.body.job.id);
      const stop = await fx.post(`/apps/${name}/stop`).expect(202);
      expect(stop.body.job.id).to.equal(`stop-${name}-${uid}-2`);
      expect((await fx.post(`/apps/${name}/stop`).expect(202)).body.job.id).to.equal(stop.body.job.id);
      const view = await fx.get(`/jobs/${stop.body.job.id}`).expect(200);
      expect(view.body.job).to.include({ type: 'operate-app', state: 'waiting' });
      const job = await fx.queues.forNode(nodeId).getJob(stop.body.job.id);
      expect(job!.data).to.deep.equal({ app: name, uid, op: 'stop', seq: 2 });
    });

    it('rebuild enqueues a deploy of the branch head as a new release, deduplicated while waiting', async function () {
      const { name, job } = await createApp();
      // The first deploy has not started: a rebuild is that same job.
      expect((await fx.post(`/apps/${name}/rebuild`).expect(202)).body.job.id).to.equal(job);
      await markDeployed(name);
      const rebuild = await fx.post(`/apps/${name}/rebuild`).expect(202);
      expect(rebuild.body.job.id).to.match(/-r000002$/);
      expect((await fx.post(`/apps/${name}/rebuild`).expect(202)).body.job.id).to.equal(rebuild.body.job.id);
    });
  });

  describe('releases and rollback', function () {
    it('rollback picks the release that served before the current one, or the one named', async function () {
      const { name } = await createApp();
      expectError(await fx.post(`/apps/${name}/rollback`).send({}), 409, 'NO_RELEASE');
      await markDeployed(name, 'r000003');
      await records.put(
        record(name, 'r000001', { timings: { createdAt: 'x', activatedAt: ['2026-01-01T00:00:01Z'] } }),
      );
      await records.put(
        record(name, 'r000002', { timings: { createdAt: 'x', activatedAt: ['2026-01-01T00:00:02Z'] } }),
      );
      await records.put(
        record(name, 'r000003', {
          status: 'active',
          timings: { createdAt: 'x', activatedAt: ['2026-01-01T00:00:03Z'] },
        }),
      );
      await records.put(record(name, 'r000004', { status: 'failed', timings: { createdAt: 'x', activatedAt: [] } }));

      const res = await fx.post(`/apps/${name}/rollback`).send({}).expect(202);
      expect(res.body.release).to.equal('r000002');
      expect(res.body.job.id).to.match(new RegExp(`^rollback-${name}-`));
      const job = await fx.queues.forNode(nodeId).getJob(res.body.job.id);
      expect(job!.data).to.include({ op: 'rollback', release: 'r000002' });
      // The same rollback again is the same job; another target is another job.
      expect((await fx.post(`/apps/${name}/rollback`).send({}).expect(202)).body.job.id).to.equal(res.body.job.id);
      const named = await fx.post(`/apps/${name}/rollback`).send({ release: 'r000001' }).expect(202);
      expect(named.body.release).to.equal('r000001');
      expect(named.body.job.id).to.not.equal(res.body.job.id);

      expectFieldError(await fx.post(`/apps/${name}/rollback`).send({ release: 'v1' }), 'release');
      expectFieldError(await fx.post(`/apps/${name}/rollback`).send({ other: 1 }), 'other');
      expectError(await fx.post(`/apps/${name}/rollback`).send({ release: 'r000009' }), 404, 'NOT_FOUND');
      expectError(await fx.post(`/apps/${name}/rollback`).send({ release: 'r000004' }), 409, 'NO_RELEASE');
      await records.update(name, 'r000001', (r) => ({ ...r, onDisk: false }));
      expectError(await fx.post(`/apps/${name}/rollback`).send({ release: 'r000001' }), 409, 'RELEASE_NOT_ON_DISK');
    });

    it('GET /apps/:name/releases lists newest first without secrets; one release has its build log', async function () {
      const { name } = await createApp();
      await markDeployed(name, 'r000002');
      await records.put(record(name, 'r000001'));
      await records.put(record(name, 'r000002', { status: 'active' }));
      const list = (await fx.get(`/apps/${name}/releases`).expect(200)).body.releases;
      expect(list.map((r: { id: string }) => r.id)).to.deep.equal(['r000002', 'r000001']);
      expect(list[0]).to.include({ current: true, status: 'active', buildLogLines: 1 });
      expect(list[0]).to.not.have.any.keys('sealedEnv', 'buildLog');
      expect(list[0].config.env).to.deep.equal({ S: '••••••' });
      const one = (await fx.get(`/apps/${name}/releases/r000001`).expect(200)).body.release;
      expect(one).to.include({ current: false });
      expect(one.buildLog).to.deep.equal(['line']);
      expect(one).to.not.have.property('sealedEnv');
      expectError(await fx.get(`/apps/${name}/releases/r000009`), 404, 'NOT_FOUND');
    });

    it('each release says who asked for it and why: the first deploy, changes (names, never values), coalesced ones, a rebuild, a rollback', async function () {
      const { name } = await createApp();
      await markDeployed(name);
      await patch(`/apps/${name}`)
        .send({ env: { GREETING: 'a-secret-value', OLD: null }, processes: { web: 2 } })
        .expect(202);
      // Coalesced into the same pending release: both requests are its causes.
      await patch(`/apps/${name}`).send({ run: 'node other.js' }).expect(202);
      await markDeployed(name, 'r000002');
      await fx.post(`/apps/${name}/rebuild`).send({ cache: false }).expect(202);
      await markDeployed(name, 'r000003');
      // As the worker records them.
      for (const id of ['r000001', 'r000002', 'r000003']) await records.put(record(name, id));
      await fx.post(`/apps/${name}/rollback`).send({ release: 'r000001' }).expect(202);

      const list = (await fx.get(`/apps/${name}/releases`).expect(200)).body.releases as {
        id: string;
        causes: { by: string; reason: string; at: string }[];
      }[];
      const causes = Object.fromEntries(list.map((r) => [r.id, r.causes.map((c) => `${c.by}: ${c.reason}`)]));
      expect(causes).to.deep.equal({
        r000003: ['admin: rebuild without the build cache'],
        r000002: ['admin: set GREETING; unset OLD; scaled web=2', 'admin: changed run'],
        r000001: ['admin: first deploy', 'admin: rollback from r000003'],
      });
      expect(JSON.stringify(list)).to.not.include('a-secret-value');
      expect(Date.parse(list[0]!.causes[0]!.at)).to.be.closeTo(Date.now(), 60_000);
      const one = (await fx.get(`/apps/${name}/releases/r000002`).expect(200)).body.release;
      expect(one.causes).to.have.length(2);
    });

    it('deleting the app removes its release records, their causes and operation counter', async function () {
      const { name } = await createApp();
      await records.put(record(name, 'r000001'));
      await fx.redis.incr(keys.appOpSeq(name));
      expect(await fx.redis.exists(keys.appReleaseCauses(name)), 'the first deploy recorded').to.equal(1);
      await fx.apps.remove(name);
      expect(await fx.redis.exists(keys.appReleases(name), keys.appReleaseCauses(name), keys.appOpSeq(name))).to.equal(
        0,
      );
    });
  });
});
