import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { containerLabels } from '../../src/core/naming.ts';
import { docker, requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type JobView, type TestPlatform } from '../support/platform.ts';
import { startTestRedis } from '../support/redis.ts';

const run = promisify(execFile);

/**
 * A node app that counts its hits in /data/counter (a volume) and answers `<version> <count>`;
 * /env shows the variables app.json gives it, /version the version; any other path answers `ok`.
 */
function counterApp(version: string, appJson?: unknown): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'counter', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': `const http = require('http');
const fs = require('fs');
http.createServer((req, res) => {
  if (req.url === '/version') return res.end('${version}');
  if (req.url === '/env') return res.end(JSON.stringify({ greeting: process.env.GREETING, secret: process.env.SECRET_KEY, token: process.env.API_TOKEN }));
  if (req.url !== '/hit') return res.end('ok');
  let n = 0;
  try { n = Number(fs.readFileSync('/data/counter', 'utf8')); } catch {}
  n++;
  fs.writeFileSync('/data/counter', String(n));
  res.end('${version} ' + n);
}).listen(process.env.PORT);
`,
    ...(appJson ? { 'app.json': JSON.stringify(appJson) } : {}),
  };
}

describe('persistent volumes and app.json (Docker, Redis, git)', function () {
  this.timeout(300_000);
  let gasper: TestPlatform;
  const repos: GitFixture[] = [];
  const unique = () => `vol-${crypto.randomBytes(3).toString('hex')}`;
  const host = (app: string) => `${app}.localhost:${gasper.proxyPort}`;
  const hit = async (app: string, p = '/hit') => (await viaProxy(gasper.proxyPort, host(app), p)).body;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({
      GASPER_DRAIN_GRACE_MS: '300',
      GASPER_STOP_TIMEOUT_S: '2',
      GASPER_HEALTH_TIMEOUT_MS: '60000',
    });
  });
  after(async () => {
    await gasper?.close();
    await Promise.all(repos.map((r) => r.remove()));
  });

  async function repo(files: Record<string, string>) {
    const r = await createGitRepo(files);
    repos.push(r);
    return r;
  }
  async function finished(res: { body: { job: { id: string } } }, state = 'completed'): Promise<JobView> {
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal(state);
    return job;
  }
  const volumesOf = async (app: string) =>
    (
      await docker.listVolumes({
        filters: { label: [`${containerLabels.node}=${gasper.nodeId}`, `${containerLabels.app}=${app}`] },
      })
    ).Volumes ?? [];

  it('keeps a volume across a redeploy, a rollback and a restart; backs it up; removes it only with the app', async () => {
    const name = unique();
    const other = unique();
    const source = await repo(counterApp('v1'));
    const volumes = [{ name: 'data', path: '/data', size: 64 }];
    await finished(
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: source.url }, runtime: 'node', volumes, healthCheck: { path: '/health' } })
        .expect(202),
    );
    expect(await hit(name)).to.equal('v1 1');
    expect(await hit(name)).to.equal('v1 2');
    const view = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    expect(view.volumes).to.have.length(1);
    expect(view.volumes[0]).to.deep.include({ name: 'data', path: '/data', size: 64 });

    // One Docker volume, named and labelled with the installation and the app's incarnation.
    const [volume, ...more] = await volumesOf(name);
    expect(more).to.deep.equal([]);
    expect(volume!.Name).to.match(new RegExp(`^gasper-[0-9a-f]{8}-${name}-[0-9a-f]+-v-data$`));
    expect(volume!.Labels![containerLabels.installation]).to.match(/^[0-9a-f]{8}$/);
    expect(volume!.Labels!['io.gasper.volume']).to.equal('data');

    // A second app with a volume of the same name has its own data.
    const otherSource = await repo(counterApp('o1'));
    await finished(
      await gasper
        .api()
        .post('/apps')
        .send({
          name: other,
          repo: { url: otherSource.url },
          runtime: 'node',
          volumes,
          healthCheck: { path: '/health' },
        })
        .expect(202),
    );
    expect(await hit(other)).to.equal('o1 1');

    // Redeploy (a new commit), rollback, restart: the count goes on.
    await source.commit(counterApp('v2'));
    await finished(await gasper.api().post(`/apps/${name}/rebuild`).send({}).expect(202));
    expect(await hit(name)).to.equal('v2 3');
    await finished(await gasper.api().post(`/apps/${name}/rollback`).send({}).expect(202));
    expect(await hit(name)).to.equal('v1 4');
    await finished(await gasper.api().post(`/apps/${name}/restart`).expect(202));
    expect(await hit(name)).to.equal('v1 5');

    // A drain leaves the app where its volume is, and says why.
    const drain = await gasper.api().post(`/nodes/${gasper.nodeId}/drain`).expect(202);
    await gasper.api().post(`/nodes/${gasper.nodeId}/undrain`).expect(200);
    expect(drain.body.staying).to.deep.include.members([
      { app: name, reason: drain.body.staying.find((s: { app?: string }) => s.app === name)?.reason },
    ]);
    expect(drain.body.staying.find((s: { app?: string }) => s.app === name).reason).to.match(
      /volumes are Docker volumes/,
    );
    expect(drain.body.moved.map((m: { app: string }) => m.app)).to.not.include(name);

    // A backup is a tar holding the counter.
    const backup = await gasper.api().post(`/apps/${name}/volumes/data/backups`).expect(202);
    await finished(backup);
    const list = await gasper.api().get(`/apps/${name}/volumes/data/backups`).expect(200);
    expect(list.body.backups.map((b: { id: string }) => b.id)).to.deep.equal([backup.body.backup.id]);
    const download = await gasper
      .api()
      .get(backup.body.backup.url)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-volume-backup-'));
    try {
      await fs.writeFile(path.join(dir, 'backup.tar'), download.body as Buffer);
      await run('tar', ['-xf', 'backup.tar'], { cwd: dir });
      const { stdout } = await run('tar', ['-tf', 'backup.tar'], { cwd: dir });
      const entry = stdout.split('\n').find((l) => l.endsWith('counter'))!;
      expect(entry, stdout).to.be.a('string');
      expect(await fs.readFile(path.join(dir, entry), 'utf8')).to.equal('5');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }

    // A restore puts the counter back to the backup's 5.
    expect(await hit(name)).to.equal('v1 6');
    expect(await hit(name)).to.equal('v1 7');
    await finished(
      await gasper.api().post(`/apps/${name}/volumes/data/restore`).send({ backup: backup.body.backup.id }).expect(202),
    );
    expect(await hit(name)).to.equal('v1 6');
    const noBackup = await gasper.api().post(`/apps/${name}/volumes/data/restore`).send({ backup: 'nope' }).expect(400);
    expect(noBackup.body.fields).to.have.property('backup');

    // Deleting a declared volume's data is refused; the app's deletion removes it, not the other app's.
    const refused = await gasper.api().delete(`/apps/${name}/volumes/data`).expect(409);
    expect(refused.body.code).to.equal('VOLUME_IN_USE');
    await finished(await gasper.api().delete(`/apps/${name}`).expect(202));
    expect(await volumesOf(name)).to.deep.equal([]);
    expect(await volumesOf(other)).to.have.length(1);
    expect(await hit(other)).to.equal('o1 2');
    await finished(await gasper.api().delete(`/apps/${other}`).expect(202));
    expect(await volumesOf(other)).to.deep.equal([]);
  });

  it('app.json: a required variable missing fails the deploy naming it; defaults and a generated secret reach the app', async () => {
    const name = unique();
    const source = await repo(
      counterApp('j1', {
        name: 'counter',
        env: {
          GREETING: 'hello',
          SECRET_KEY: { generator: 'secret' },
          API_TOKEN: { description: 'from the provider', required: true },
        },
      }),
    );
    const failed = await finished(
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: source.url }, runtime: 'node' })
        .expect(202),
      'failed',
    );
    expect(failed.error).to.contain('API_TOKEN');
    expect(failed.log.join('\n')).to.contain('app.json: ignored name');

    await finished(
      await gasper
        .api()
        .patch(`/apps/${name}`)
        .send({ env: { API_TOKEN: 't0k' } })
        .expect(202),
    );
    const first = JSON.parse(await hit(name, '/env'));
    expect(first.greeting).to.equal('hello');
    expect(first.token).to.equal('t0k');
    expect(first.secret).to.match(/^[0-9a-f]{64}$/);
    // The secret is in the app's env, and stays across deploys.
    expect((await gasper.api().get(`/apps/${name}`).expect(200)).body.app.envKeys).to.include('SECRET_KEY');
    await finished(await gasper.api().post(`/apps/${name}/rebuild`).send({}).expect(202));
    expect(JSON.parse(await hit(name, '/env')).secret).to.equal(first.secret);
    await finished(await gasper.api().delete(`/apps/${name}`).expect(202));
  });

  it('app.json healthchecks: the body must hold the content; a wrong one fails after its attempts and the old release serves on', async () => {
    const name = unique();
    const check = (content: string) => ({
      healthchecks: { web: { path: '/health', content, timeout: 1, attempts: 2 } },
    });
    const source = await repo(counterApp('h1', check('ok')));
    const first = await finished(
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: source.url }, runtime: 'node' })
        .expect(202),
    );
    const waited = 'GET /health answering 2xx or 3xx with "ok" in its body (2 attempts, 1 s each)';
    expect(first.log.join('\n')).to.contain(`app.json: health check ${waited}`);
    expect(first.log.join('\n')).to.contain(`waiting for ${waited}`);
    expect(await hit(name, '/version')).to.equal('h1');

    await source.commit(counterApp('h2', check('all good')));
    const started = Date.now();
    const failed = await finished(await gasper.api().post(`/apps/${name}/rebuild`).send({}).expect(202), 'failed');
    expect(failed.error).to.contain(
      'app did not pass its health check after 2 attempts: GET /health answered 200 but the body does not contain "all good" (first 200 bytes: "ok")',
    );
    expect(failed.log.join('\n')).to.contain('GET /health answered 200 but the body does not contain "all good"');
    // Two attempts, a pause between: not the 60 s startup deadline.
    expect(Date.now() - started).to.be.below(45_000);
    // The old release still serves.
    expect(await hit(name, '/version')).to.equal('h1');
    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    expect(app.status).to.equal('running');
    // A restart of the serving release checks what its deploy checked (kept with the release).
    const restarted = await finished(await gasper.api().post(`/apps/${name}/restart`).send({}).expect(202));
    expect(restarted.log.join('\n')).to.contain(`waiting for ${waited}`);
    await finished(await gasper.api().delete(`/apps/${name}`).expect(202));
  });

  it('app.json scripts.postdeploy: runs once after the first deploy, not on a redeploy; a failure is reported and the deploy stands', async () => {
    const name = unique();
    const source = await repo(
      counterApp('p1', {
        scripts: { postdeploy: 'echo seeded-$GREETING', predeploy: 'echo migrated' },
        env: { GREETING: 'once' },
      }),
    );
    const first = await finished(
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: source.url }, runtime: 'node' })
        .expect(202),
    );
    const log = first.log.join('\n');
    expect(log).to.contain('app.json: postdeploy: echo seeded-$GREETING (once, after the first deploy)');
    expect(log).to.contain('  seeded-once');
    expect(log).to.contain('app.json: postdeploy succeeded');
    // After the release phase and the switch.
    expect(log.indexOf('  migrated')).to.be.below(log.indexOf('  seeded-once'));
    expect(log.indexOf('switching traffic')).to.be.below(log.indexOf('  seeded-once'));
    const again = await finished(await gasper.api().post(`/apps/${name}/rebuild`).send({}).expect(202));
    expect(again.log.join('\n')).not.to.contain('seeded-once');
    expect(again.log.join('\n')).to.contain('app.json: scripts.postdeploy not run: it ran once already');

    const failing = unique();
    const bad = await repo(counterApp('p2', { scripts: { postdeploy: 'echo oops; exit 3' } }));
    const deployed = await finished(
      await gasper
        .api()
        .post('/apps')
        .send({ name: failing, repo: { url: bad.url }, runtime: 'node' })
        .expect(202),
    );
    expect(deployed.log.join('\n')).to.contain('  oops');
    expect(deployed.log.join('\n')).to.contain('postdeploy (echo oops; exit 3) exited with code 3; the deploy stands');
    const app = (await gasper.api().get(`/apps/${failing}`).expect(200)).body.app;
    expect(app.status).to.equal('running');
    expect(app.lastError).to.equal('postdeploy failed: postdeploy (echo oops; exit 3) exited with code 3');
    expect(await hit(failing, '/version')).to.equal('p2');
    // Not run again by a redeploy either.
    const redeployed = await finished(await gasper.api().post(`/apps/${failing}/rebuild`).send({}).expect(202));
    expect(redeployed.log.join('\n')).not.to.contain('  oops');
    await finished(await gasper.api().delete(`/apps/${name}`).expect(202));
    await finished(await gasper.api().delete(`/apps/${failing}`).expect(202));
  });

  it('keeps a volume across a worker restart (the platform stopped and started again on the same Redis)', async () => {
    const redis = await startTestRedis();
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-state-'));
    const env = {
      REDIS_URL: redis.url,
      GASPER_STATE_DIR: stateDir,
      GASPER_NODE_ID: `t-${crypto.randomBytes(4).toString('hex')}`,
      GASPER_HEALTH_TIMEOUT_MS: '60000',
    };
    const name = unique();
    const source = await repo(counterApp('w1'));
    let second: TestPlatform | undefined;
    const first = await startTestPlatform(env);
    try {
      const res = await first
        .api()
        .post('/apps')
        .send({ name, repo: { url: source.url }, runtime: 'node', volumes: [{ name: 'data', path: '/data' }] })
        .expect(202);
      const job = await first.waitForJob(res.body.job.id);
      expect(job.state, job.log.join('\n')).to.equal('completed');
      const via = (p: TestPlatform) => async () =>
        (await viaProxy(p.proxyPort, `${name}.localhost:${p.proxyPort}`, '/hit')).body;
      expect(await via(first)()).to.equal('w1 1');
      // The worker (and API, proxy) stop; the app's container and volume stay, as on a real restart.
      await first.platform.close();
      second = await startTestPlatform(env);
      expect(await via(second)()).to.equal('w1 2');
      const restart = await second.api().post(`/apps/${name}/restart`).expect(202);
      expect((await second.waitForJob(restart.body.job.id)).state).to.equal('completed');
      expect(await via(second)()).to.equal('w1 3');
    } finally {
      if (second) await second.close();
      else await first.close();
      await redis.close();
    }
  });
});
