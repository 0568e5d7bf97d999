import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'bullmq';
import { expect } from 'chai';
import { bullPrefix } from '../../src/core/keys.ts';
import { DatabaseStore } from '../../src/store/databases.ts';
import { VolumeBackupStore } from '../../src/store/volume-backups.ts';
import { ReleaseStore, type ReleaseRecord } from '../../src/store/release-records.ts';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from '../api/api-fixture.ts';
import { ensureCliBuilt, gasperBin, runGasper } from '../support/cli.ts';
import { deliver, pushPayload } from '../support/github-webhooks.ts';
import { ReleaseCauseStore } from '../../src/store/release-causes.ts';

/** A release as a node worker records it (its config as the API shows it). */
function release(app: string, id: string, activated: boolean, extra: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    id,
    app,
    status: activated ? 'superseded' : 'failed',
    commit: `${id}0123456789abcdef`,
    config: {
      runtime: 'node',
      image: 'gasper/node:22',
      repo: { url: 'file:///srv/git/demo.git' },
      build: ['npm ci'],
      run: 'node server.js',
      port: 3000,
      env: { GREETING: '••••••' },
      instances: 1,
      resources: { cpu: 0.5, memory: 256 },
      healthCheck: {},
    },
    sealedEnv: {},
    buildLog: [`building ${id}`, 'npm ci: added 3 packages'],
    onDisk: true,
    timings: {
      createdAt: '2026-12-01T10:00:00.000Z',
      finishedAt: '2026-12-01T10:01:00.000Z',
      durationMs: 60_000,
      activatedAt: activated ? ['2026-12-01T10:01:00.000Z'] : [],
    },
    ...extra,
  };
}

/**
 * The commands that cover the API a user works with, run as a user runs them (the compiled
 * CLI, a child process) against the API served on a loopback port with a private Redis. The API
 * only enqueues: where a command follows a job, a BullMQ worker on the node's queue stands in
 * for the node worker and completes it.
 */
describe('gasper env, scale, https, releases, rollback, logs, open, databases, keys, webhook (CLI against the API, real Redis)', function () {
  this.timeout(300_000);
  let fx: ApiFixture;
  let server: http.Server;
  let env: Record<string, string>;
  let app: string;
  let node: string;
  const gasper = (args: string[], input?: string) => runGasper(args, env, input);

  before(async () => {
    await ensureCliBuilt();
    fx = await startApiFixture({ domain: 'apps.example.net' });
    node = `n-${suffix()}`;
    await fx.registerNode(node);
    server = http.createServer(fx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    env = { GASPER_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, GASPER_TOKEN: fx.token };
    app = appName('web');
    await fx.post('/apps').send(validBody(app)).expect(202);
  });
  // A fresh heartbeat: placement (a link moves the app) refuses a node silent for 30 s.
  beforeEach(async () => {
    await fx.registerNode(node);
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  /** Completes every job the node's queue gets while `run` runs (the node worker's part, stood in for). */
  async function withNodeWorker<T>(run: () => Promise<T>): Promise<T> {
    // A connection of its own: a BullMQ worker blocks on it.
    const connection = fx.redis.duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker(fx.queues.forNode(node).name, async (job) => ({ done: job.name }), {
      connection,
      prefix: bullPrefix,
    });
    try {
      return await run();
    } finally {
      await worker.close();
      connection.disconnect();
    }
  }

  it('env set follows the redeploy it starts; env get lists names and checks one; env unset removes', async () => {
    const set = await withNodeWorker(() => gasper(['env', 'set', app, 'GREETING=hello world', 'URL=a=b']));
    expect(set.code, set.stderr).to.equal(0);
    expect(set.stderr).to.match(new RegExp(`${app}: set GREETING, URL; redeploying \\(job deploy-${app}-`));
    expect(set.stdout).to.include(`${app}: set GREETING, URL; redeployed`);
    const names = await gasper(['env', 'get', app]);
    expect(names.stdout.trim().split('\n')).to.deep.equal(['GREETING', 'URL']);
    expect((await gasper(['env', 'get', app, 'GREETING'])).code).to.equal(0);
    const missing = await gasper(['env', 'get', app, 'NOPE']);
    expect(missing.code).to.equal(1);
    expect(missing.stdout).to.include(`NOPE is not set on ${app}`);
    const unset = await gasper(['env', 'unset', app, 'URL', '--no-wait']);
    expect(unset.code, unset.stderr).to.equal(0);
    expect(unset.stdout).to.match(/job deploy-\S+ queued/);
    expect((await fx.get(`/apps/${app}`).expect(200)).body.app.envKeys).to.deep.equal(['GREETING']);
    const bad = await gasper(['env', 'set', app, 'no-equals-sign']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('expected KEY=VALUE');
  });

  it('scale sets the process types (web=N is the instances too) and shows them; a count over the limit names the field', async () => {
    const scaled = await gasper(['scale', app, 'web=3', '--memory', '512', '--no-wait']);
    expect(scaled.code, scaled.stderr).to.equal(0);
    expect(scaled.stderr).to.not.include('no process types');
    const doc = (await fx.get(`/apps/${app}`).expect(200)).body.app;
    expect(doc.scale.instances).to.equal(3);
    expect(doc.scale.resources.memory).to.equal(512);
    const shown = await gasper(['scale', app]);
    expect(shown.stdout.trim()).to.match(/^web=3 {2}\(each [\d.]+ CPU, 512 MiB\)$/);
    const worker = await gasper(['scale', app, 'worker=2', '--no-wait']);
    expect(worker.code, worker.stderr).to.equal(0);
    expect((await fx.get(`/apps/${app}`).expect(200)).body.app.formation.desired).to.deep.equal({ web: 3, worker: 2 });
    expect((await gasper(['scale', app])).stdout).to.match(/web=3 .*\n.*worker=2|web=3.*worker=2/s);
    await gasper(['scale', app, 'worker=0', '--no-wait']);
    const invalid = await gasper(['scale', app, 'web=1000', '--no-wait']);
    expect(invalid.code).to.equal(1);
    expect(invalid.stderr).to.match(/processes\.web/);
  });

  it('apps repo shows where the app is built from, and changes branch, folder and URL with a followed redeploy', async () => {
    const name = appName('repo');
    await fx
      .post('/apps')
      .send(validBody(name, { repo: { url: 'https://example.com/o/site.git', token: 'tok-1' } }))
      .expect(202);
    const shown = await gasper(['apps', 'repo', name]);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.stdout.trim()).to.equal(
      `${name}: https://example.com/o/site.git (default branch, whole repository), token: set`,
    );
    const moved = await withNodeWorker(() => gasper(['apps', 'repo', name, '--branch', 'release', '--path', 'web/']));
    expect(moved.code, moved.stderr).to.equal(0);
    expect(moved.stdout.trim()).to.equal(
      `${name}: repository now https://example.com/o/site.git (branch release, folder web), token: set; redeployed`,
    );
    // Another server: the token is not sent there, and the user is told.
    const other = await gasper([
      'apps',
      'repo',
      name,
      '--url',
      'https://git.other.example/o/site.git',
      '--default-branch',
      '--root',
      '--no-wait',
    ]);
    expect(other.code, other.stderr).to.equal(0);
    expect(other.stderr).to.include(
      `the repository token was for another server and is not sent to this one: give one for it with gasper apps repo ${name} --token-stdin`,
    );
    expect((await fx.get(`/apps/${name}`).expect(200)).body.app.repo).to.deep.equal({
      url: 'https://git.other.example/o/site.git',
      hasToken: false,
    });
    // A token for the new server, read from stdin (never in argv), saved for the next clone: no redeploy.
    const token = await gasper(['apps', 'repo', name, '--token-stdin'], 'tok-2\n');
    expect(token.code, token.stderr).to.equal(0);
    expect(token.stdout.trim()).to.equal(
      `${name}: repository now https://git.other.example/o/site.git (default branch, whole repository), token: set ` +
        `(saved for the next clone; gasper apps rebuild ${name} deploys the latest commit with it now)`,
    );
    const sealed = (await fx.apps.get(name))!.repo.sealedCredentials!;
    expect(fx.secrets.open(sealed)).to.include('"token":"tok-2"');
    const empty = await gasper(['apps', 'repo', name, '--token-stdin'], '');
    expect(empty.code).to.equal(1);
    expect(empty.stderr).to.include('stdin was empty');
    const removed = await gasper(['apps', 'repo', name, '--remove-token']);
    expect(removed.code, removed.stderr).to.equal(0);
    expect(removed.stderr).to.equal('');
    expect((await fx.get(`/apps/${name}`).expect(200)).body.app.repo.hasToken).to.equal(false);
    const both = await gasper(['apps', 'repo', name, '--branch', 'a', '--default-branch']);
    expect(both.code).to.equal(1);
    expect(both.stderr).to.include('give --branch or --default-branch, not both');
    const bad = await gasper(['apps', 'repo', name, '--path', '../elsewhere']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('repo.path');
  });

  it('apps update changes how the app is built and run: a runtime redeploys, a health path alone does not; bad input named', async () => {
    const name = appName('upd');
    await fx.post('/apps').send(validBody(name)).expect(202);
    const runtime = await withNodeWorker(() =>
      gasper(['apps', 'update', name, '--runtime', 'python', '--build', 'pip install -r requirements.txt']),
    );
    expect(runtime.code, runtime.stderr).to.equal(0);
    expect(runtime.stdout.trim()).to.equal(`${name}: changed build, runtime; redeployed`);
    expect(await fx.apps.get(name)).to.deep.include({ runtime: 'python', build: ['pip install -r requirements.txt'] });
    const health = await gasper(['apps', 'update', name, '--health-path', '/up']);
    expect(health.stdout.trim()).to.equal(`${name}: changed healthCheck (applied, no redeploy needed)`);
    const back = await withNodeWorker(() => gasper(['apps', 'update', name, '--default-build']));
    expect(back.stdout.trim()).to.equal(`${name}: changed build; redeployed`);
    expect((await fx.apps.get(name))!.build).to.equal(undefined);
    const nothing = await gasper(['apps', 'update', name]);
    expect(nothing.code).to.equal(1);
    expect(nothing.stderr).to.include('nothing to change: give --runtime');
    const unknown = await gasper(['apps', 'update', name, '--runtime', 'cobol', '--no-wait']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.include('runtime: unknown runtime; one of: ');
  });

  it('schedules add, list, runs and remove; runtimes lists what --runtime may be', async () => {
    const added = await gasper([
      'schedules',
      'add',
      app,
      '0 3 * * *',
      '--timezone',
      'Europe/Paris',
      '--',
      'npm',
      'run',
      'report',
    ]);
    expect(added.code, added.stderr).to.equal(0);
    const id = /^([0-9a-f]{12}) added to /.exec(added.stdout)?.[1];
    expect(added.stdout).to.match(
      new RegExp(`^${id} added to ${app}: npm run report at 0 3 \\* \\* \\* \\(Europe/Paris\\); next run \\d{4}-`),
    );
    const listed = await gasper(['schedules', 'list', app]);
    expect(listed.stdout).to.match(
      new RegExp(`^${id} +0 3 \\* \\* \\* +Europe/Paris +skip +\\d{4}-\\S+ \\d\\d:\\d\\d UTC +npm run report$`, 'm'),
    );
    expect((await gasper(['schedules', 'runs', app, id!])).stdout.trim()).to.equal(`${id} has not run yet`);
    const bad = await gasper(['schedules', 'add', app, 'soon', '--', 'true']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('schedule');
    expect((await gasper(['schedules', 'remove', app, id!])).stdout.trim()).to.equal(`${id} removed from ${app}`);
    expect((await gasper(['schedules', 'list', app])).stdout.trim()).to.equal(
      `${app} has no schedules (gasper schedules add ${app} '<cron>' -- <command>)`,
    );
    const runtimes = await gasper(['runtimes']);
    expect(runtimes.code, runtimes.stderr).to.equal(0);
    expect(runtimes.stdout).to.match(
      /^node +20, 22, 24 +24 +\.node-version, \.nvmrc, engines\.node in package\.json$/m,
    );
  });

  it('volumes add, list, backup, backups, download, restore, unmount and delete, each as the API takes it', async () => {
    const name = appName('vol');
    await fx.post('/apps').send(validBody(name)).expect(202);
    const added = await withNodeWorker(() => gasper(['volumes', 'add', name, 'data', '/data', '--size', '64']));
    expect(added.code, added.stderr).to.equal(0);
    expect(added.stdout.trim()).to.equal(`${name}: volume data at /data; redeployed`);
    await withNodeWorker(() => gasper(['volumes', 'add', name, 'cache', '/cache']));
    expect((await fx.apps.get(name))!.volumes).to.deep.equal([
      { name: 'data', path: '/data', size: 64 },
      { name: 'cache', path: '/cache' },
    ]);
    expect((await gasper(['volumes', 'list', name])).stdout.split('\n')).to.include.members([
      'VOLUME  PATH    SIZE    USED',
      'data    /data   64 MiB  not measured yet',
    ]);
    // The node worker's part: a backup taken (here written as the worker would).
    const backup = await withNodeWorker(() => gasper(['volumes', 'backup', name, 'data']));
    expect(backup.stdout.trim()).to.match(/^backup \S+ of volume data taken$/);
    const data = Buffer.from('a tar stands here');
    const meta = {
      id: 'v-1',
      volume: 'data',
      size: data.length,
      createdAt: '2026-12-01T12:00:00.000Z',
      filename: `${name}-data-v-1.tar`,
    };
    await new VolumeBackupStore(fx.redis).put(name, meta, data, 5);
    expect((await gasper(['volumes', 'backups', name, 'data'])).stdout).to.match(/^v-1 +17 B +2026-12-01 12:00 UTC$/m);
    expect((await gasper(['volumes', 'download', name, 'data', 'v-1', '-o', '-'])).stdout).to.equal(data.toString());
    const restore = await gasper(['volumes', 'restore', name, 'data', 'v-1', '--no-wait']);
    expect(restore.stdout).to.match(/job \S+ queued/);
    const noBackup = await gasper(['volumes', 'restore', name, 'data', 'v-nope']);
    expect(noBackup.code).to.equal(1);
    expect(noBackup.stderr).to.include('backup: no backup "v-nope" of volume "data"');
    // Data is never deleted while mounted: unmount first (the data is kept), then delete.
    const inUse = await gasper(['volumes', 'delete', name, 'data']);
    expect(inUse.code).to.equal(1);
    expect(inUse.stderr).to.include(
      `stop mounting it first (PATCH /apps/${name} with the volumes without it, or gasper volumes unmount ${name} data`,
    );
    const unmounted = await withNodeWorker(() => gasper(['volumes', 'unmount', name, 'data']));
    expect(unmounted.stdout.trim()).to.equal(`${name}: volume data unmounted, its data kept; redeployed`);
    expect((await fx.apps.get(name))!.volumes).to.deep.equal([{ name: 'cache', path: '/cache' }]);
    const deleted = await withNodeWorker(() => gasper(['volumes', 'delete', name, 'data']));
    expect(deleted.code, deleted.stderr).to.equal(0);
    expect(deleted.stdout.trim()).to.equal(`volume data of ${name} deleted, with its backups`);
    const none = await gasper(['volumes', 'unmount', name, 'data']);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.include('the app declares no volume "data"');
  });

  it('apps create --token-stdin (and --username) keeps the token sealed, never in argv; empty stdin creates nothing', async () => {
    const name = appName('private');
    const args = ['apps', 'create', name, '--repo', 'https://example.com/o/private.git', '--runtime', 'static'];
    const empty = await gasper([...args, '--token-stdin', '--no-wait'], '');
    expect(empty.code).to.equal(1);
    expect(empty.stderr).to.include('--token-stdin: stdin was empty');
    await fx.get(`/apps/${name}`).expect(404);
    const alone = await gasper([...args, '--username', 'alice', '--no-wait']);
    expect(alone.code).to.equal(1);
    expect(alone.stderr).to.include('--username goes with --token-stdin');
    await fx.get(`/apps/${name}`).expect(404);
    const created = await gasper([...args, '--token-stdin', '--username', 'alice', '--no-wait'], 'tok-private\n');
    expect(created.code, created.stderr).to.equal(0);
    expect((await fx.get(`/apps/${name}`).expect(200)).body.app.repo).to.deep.equal({
      url: 'https://example.com/o/private.git',
      hasToken: true,
    });
    expect(JSON.parse(fx.secrets.open((await fx.apps.get(name))!.repo.sealedCredentials!))).to.deep.equal({
      username: 'alice',
      token: 'tok-private',
    });
  });

  it('webhook create prints what to paste into GitHub (the secret works), warns of a local URL; show, rotate, remove', async () => {
    const name = appName('hook');
    const repoUrl = 'https://github.com/Codertocat/Hello-World.git';
    await fx
      .post('/apps')
      .send(validBody(name, { repo: { url: repoUrl, branch: 'main' } }))
      .expect(202);
    expect((await gasper(['webhook', 'show', name])).stdout.trim()).to.equal(
      `${name}: no push webhook (gasper webhook create ${name} sets one up)`,
    );
    const created = await gasper(['webhook', 'create', name]);
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stdout).to.include(`${name}: push webhook ready.`);
    expect(created.stdout).to.include(`  Payload URL:   ${env.GASPER_URL}/webhooks/github/${name}\n`);
    expect(created.stdout).to.include('A push to branch main then deploys exactly the pushed commit.');
    // The API is on 127.0.0.1 here, which GitHub cannot reach: said, with what to set.
    expect(created.stderr).to.include(`${name}: GitHub cannot reach 127.0.0.1: set GASPER_API_URL`);
    const secret = /Secret: +(\S+)/.exec(created.stdout)?.[1];
    expect(secret).to.match(/^[A-Za-z0-9_-]{43}$/);
    // The secret printed is the one the API verifies: a push signed with it deploys.
    const pushed = await deliver(fx.app, `/webhooks/github/${name}`, {
      event: 'push',
      secret: secret!,
      payload: pushPayload({ ref: 'refs/heads/main', after: 'a'.repeat(40), repoUrl, pushedAt: 1_900_000_000 }),
    });
    expect(pushed.status, JSON.stringify(pushed.body)).to.equal(202);
    expect((await gasper(['webhook', 'show', name])).stdout.trim()).to.match(
      new RegExp(
        `^${name}: push webhook set up \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC; last push deployed: 2030-03-17 17:46 UTC$`,
      ),
    );
    expect((await gasper(['apps', 'show', name])).stdout).to.match(
      / {2}webhook: {4}set up .*, last push 2030-03-17 17:46 UTC\n/,
    );
    // A second create would break GitHub's deliveries: refused unless --rotate says so.
    const again = await gasper(['webhook', 'create', name]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include(`${name} already has a push webhook (set up `);
    expect(again.stderr).to.include(`gasper webhook create ${name} --rotate makes a new secret`);
    const rotated = await gasper(['webhook', 'create', name, '--rotate']);
    expect(rotated.stdout).to.match(new RegExp(`^${name}: push webhook secret rotated: the old one stops working now`));
    expect(/Secret: +(\S+)/.exec(rotated.stdout)?.[1]).to.not.equal(secret);
    const removed = await gasper(['webhook', 'remove', name]);
    expect(removed.code, removed.stderr).to.equal(0);
    expect(removed.stdout).to.include(`${name}: push webhook removed`);
    expect((await fx.get(`/apps/${name}`).expect(200)).body.app.webhook).to.equal(null);
  });

  it('apps https sets redirect and HSTS at once (no redeploy) and shows them; a bad mode names the field', async () => {
    const set = await gasper(['apps', 'https', app, 'redirect', '--hsts']);
    expect(set.code, set.stderr).to.equal(0);
    // This API has no platform certificate and the app no issued domain: the setting is kept,
    // and the user is told it does nothing yet rather than that HTTP is redirected.
    const notYet =
      `${app}: https redirect (not in effect yet: no name of the app has a certificate, so plain HTTP is still ` +
      'served; it starts with the platform certificate, GASPER_TLS_CERT, or once a custom domain is issued), HSTS on';
    expect(set.stdout.trim()).to.equal(notYet);
    const doc = (await fx.get(`/apps/${app}`).expect(200)).body.app;
    expect([doc.https, doc.hsts]).to.deep.equal(['redirect', true]);
    expect((await gasper(['apps', 'https', app])).stdout.trim()).to.equal(notYet);
    expect((await gasper(['apps', 'https', app, 'allow', '--no-hsts'])).stdout.trim()).to.equal(
      `${app}: https allow, HSTS off`,
    );
    const bad = await gasper(['apps', 'https', app, 'sometimes']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('https: one of: allow, redirect');
  });

  it('releases lists and shows releases; rollback goes back to one; an unknown one is refused with the reason', async () => {
    const store = new ReleaseStore(fx.redis);
    await store.put(release(app, 'r000001', true));
    await store.put(release(app, 'r000002', false, { error: 'build failed: npm ci exited 1' }));
    const list = await gasper(['releases', app]);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/RELEASE\s+STATUS\s+COMMIT\s+CREATED\s+BY\s+WHY\s+ON DISK\s+ERROR/);
    expect(list.stdout).to.match(
      /r000002\s+failed\s+r00000201234\s+2026-12-01 10:00 UTC\s+admin\s+set GREETING, URL\s+yes\s+build failed: npm ci exited 1/,
    );
    // Who asked for each and why, as the API recorded the CLI's requests.
    expect(list.stdout).to.match(
      /r000001\s+superseded\s+r00000101234\s+2026-12-01 10:00 UTC\s+admin\s+first deploy\s+yes/,
    );
    const one = await gasper(['releases', app, 'r000001']);
    expect(one.stdout).to.include('  run:       node server.js');
    expect(one.stdout).to.include('npm ci: added 3 packages');
    const back = await gasper(['rollback', app, 'r000001', '--no-wait']);
    expect(back.code, back.stderr).to.equal(0);
    expect(back.stdout).to.match(new RegExp(`job rollback-${app}-\\S+ queued`));
    const failed = await gasper(['rollback', app, 'r000002']);
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.include('release r000002 never ran successfully');
    const none = await gasper(['rollback', app, 'r000009']);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.include(`app "${app}" has no release r000009`);
  });

  it('apps rebuild --no-cache deploys the branch head without the build cache, followed to the end', async () => {
    const rebuilt = await withNodeWorker(() => gasper(['apps', 'rebuild', app, '--no-cache']));
    expect(rebuilt.code, rebuilt.stderr).to.equal(0);
    expect(rebuilt.stdout).to.include(`${app} rebuilt without the build cache`);
    const doc = (await fx.apps.get(app))!;
    const job = await fx.queues.forNode(node).getJob(doc.lastJob!);
    expect(job?.data).to.include({ app, cache: false });
    const [cause] = (await new ReleaseCauseStore(fx.redis).byRelease(app)).get(job!.data.release)!;
    expect(cause).to.include({ by: 'admin', reason: 'rebuild without the build cache' });
  });

  it('logs prints the tail, of one process type with --process; open prints the URL', async () => {
    // No worker ran the app here: an empty tail, said on stderr rather than left silent.
    const logs = await gasper(['logs', app]);
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.equal('');
    expect(logs.stderr).to.equal(`gasper: ${app} has printed nothing yet to stdout or stderr\n`);
    const byProcess = await gasper(['logs', app, '--process', 'worker']);
    expect(byProcess.code, byProcess.stderr).to.equal(0);
    expect(byProcess.stderr).to.include(`${app} (worker) has printed nothing yet`);
    expect((await gasper(['--json', 'logs', app])).stderr).to.equal('');
    const open = await gasper(['open', app]);
    expect(open.code, open.stderr).to.equal(0);
    expect(open.stdout.trim()).to.equal(`http://${app}.apps.example.net:8088`);
    const missing = await gasper(['open', 'no-such-app']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('app "no-such-app" not found');
  });

  it('databases link/unlink redeploy the app; backup, backups, download and restore', async () => {
    const db = `db-${suffix()}`;
    const created = await gasper(['databases', 'create', db, '--engine', 'postgres', '--no-wait']);
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stdout).to.match(/connection \(shown once\): postgres:\/\//);
    const linked = await withNodeWorker(() => gasper(['db', 'link', db, app]));
    expect(linked.code, linked.stderr).to.equal(0);
    expect(linked.stdout).to.include(`${db} linked to ${app}; redeployed`);
    expect((await fx.get(`/apps/${app}`).expect(200)).body.app.databases).to.deep.equal([db]);
    expect((await gasper(['db', 'link', db, app])).stdout).to.include('already linked');

    const show = await gasper(['apps', 'show', app]);
    expect(show.stdout).to.include(`  databases:  ${db}`);
    expect(show.stdout).to.match(/ {2}processes: {2}web=3/);
    expect(show.stdout).to.match(/ {2}last deploy: r00000\d /);
    const json = JSON.parse((await gasper(['--json', 'apps', 'show', app])).stdout);
    expect(json.app.databases).to.deep.equal([db]);
    expect(json).to.have.property('domains').that.is.an('array');
    expect(json.lastDeploy.id).to.match(/^r\d{6}$/);

    const unlinked = await gasper(['db', 'unlink', db, app, '--no-wait']);
    expect(unlinked.code, unlinked.stderr).to.equal(0);
    expect((await fx.get(`/apps/${app}`).expect(200)).body.app.databases).to.deep.equal([]);
    const notLinked = await gasper(['db', 'unlink', db, app]);
    expect(notLinked.code).to.equal(1);
    expect(notLinked.stderr).to.include(`${db} is not linked to ${app}`);

    // The node worker's part: the database running, a backup taken.
    const store = new DatabaseStore(fx.redis);
    await store.update(db, (d) => ({ ...d, status: 'running' }));
    const backup = await gasper(['databases', 'backup', db, '--no-wait']);
    expect(backup.code, backup.stderr).to.equal(0);
    const data = Buffer.from('-- PostgreSQL dump\nCREATE TABLE t ();\n');
    const meta = { id: 'b-1', size: data.length, createdAt: '2026-12-01T12:00:00.000Z', filename: `${db}-b-1.sql` };
    await store.putBackup(db, meta, data, 5);
    const list = await gasper(['databases', 'backups', db]);
    expect(list.stdout).to.match(/b-1\s+\d+ B\s+2026-12-01 12:00 UTC/);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-cli-download-'));
    try {
      const out = path.join(dir, 'dump.sql');
      const download = await gasper(['databases', 'download', db, 'b-1', '-o', out]);
      expect(download.code, download.stderr).to.equal(0);
      expect(await fs.readFile(out)).to.deep.equal(data);
      expect((await fs.stat(out)).mode & 0o777).to.equal(0o600);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    const toStdout = await gasper(['databases', 'download', db, 'b-1', '-o', '-']);
    expect(toStdout.stdout).to.equal(data.toString());
    const restore = await gasper(['databases', 'restore', db, 'b-1', '--no-wait']);
    expect(restore.code, restore.stderr).to.equal(0);
    expect(restore.stdout).to.match(/job \S+ queued/);
    const noBackup = await gasper(['databases', 'restore', db, 'b-nope']);
    expect(noBackup.code).to.equal(1);
    expect(noBackup.stderr).to.include(`backup: no backup "b-nope" of "${db}"`);
  });

  it('keys add (file or stdin), list and remove; a key added twice is refused', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-cli-keys-'));
    try {
      const file = path.join(dir, 'id_ed25519');
      await new Promise<void>((resolve, reject) =>
        execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'me@laptop', '-f', file], (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      const added = await gasper(['keys', 'add', app, `${file}.pub`]);
      expect(added.code, added.stderr).to.equal(0);
      const id = /^(key_[0-9a-f]{16}) added to /.exec(added.stdout)?.[1];
      expect(id, added.stdout).to.be.a('string');
      expect(added.stdout).to.match(/ssh-ed25519 SHA256:\S+ \(me@laptop\)/);
      const again = await gasper(['keys', 'add', app, '-'], await fs.readFile(`${file}.pub`, 'utf8'));
      expect(again.code).to.equal(1);
      expect(again.stderr).to.include(`is already registered as ${id}`);
      const list = await gasper(['keys', 'list', app]);
      expect(list.stdout).to.match(
        new RegExp(`${id}\\s+ssh-ed25519\\s+SHA256:\\S+\\s+\\d{4}-\\d\\d-\\d\\d .* UTC\\s+me@laptop`),
      );
      expect((await gasper(['keys', 'remove', app, id!])).stdout.trim()).to.equal(`${id} removed from ${app}`);
      expect((await gasper(['keys', 'list', app])).stdout).to.include(`no SSH keys for ${app}`);
      const bad = await gasper(['keys', 'add', app, '-'], 'not a key');
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.match(/key: /);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('completion prints a script for bash, zsh and fish, and refuses another shell', async () => {
    const bash = await gasper(['completion', 'bash']);
    expect(bash.code, bash.stderr).to.equal(0);
    expect(bash.stdout).to.include('complete -o default -F _gasper_complete gasper');
    expect((await gasper(['completion', 'zsh'])).stdout).to.match(/^#compdef gasper/);
    expect((await gasper(['completion', 'fish'])).stdout).to.include("complete -c gasper -f -n 'test (__gasper_path)");
    const tcsh = await gasper(['completion', 'tcsh']);
    expect(tcsh.code).to.equal(1);
    expect(tcsh.stderr).to.include('one of bash, zsh, fish');
  });
});

describe('the compiled CLI (dist/) on its own', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    await ensureCliBuilt();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-cli-dist-'));
  });
  after(async () => fs.rm(dir, { recursive: true, force: true }));

  const run = (bin: string, args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [bin, ...args],
        { env: { PATH: process.env.PATH!, HOME: dir } },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );

  it('runs --help with commander alone: no tsx, no TypeScript sources, no platform code', async () => {
    // A copy of bin/ and dist/ whose node_modules holds commander only: anything else `--help`
    // imported (tsx, the sources, the API's or worker's packages) would fail to load here.
    const root = path.join(dir, 'pkg');
    await fs.cp(path.dirname(gasperBin), path.join(root, 'bin'), { recursive: true });
    await fs.cp(path.resolve('dist'), path.join(root, 'dist'), { recursive: true });
    await fs.writeFile(path.join(root, 'package.json'), JSON.stringify({ type: 'module' }));
    await fs.mkdir(path.join(root, 'node_modules'));
    await fs.symlink(path.resolve('node_modules/commander'), path.join(root, 'node_modules', 'commander'));
    const help = await run(path.join(root, 'bin', 'gasper.js'), ['--help']);
    expect(help.code, help.stderr).to.equal(0);
    expect(help.stdout).to.include('Usage: gasper [options] [command]');
    expect(help.stdout).to.include('completion <shell>');
    const sub = await run(path.join(root, 'bin', 'gasper.js'), ['databases', 'link', '--help']);
    expect(sub.stdout).to.include('Examples:');
    // The version is the package's; a copy without its package.json says it does not know.
    const { version } = JSON.parse(await fs.readFile('package.json', 'utf8')) as { version: string };
    // Through a symlink elsewhere, as `npm link` puts it on the PATH: dist/ is found from the link's target.
    const linked = path.join(dir, 'on-path', 'gasper');
    await fs.mkdir(path.dirname(linked));
    await fs.symlink(gasperBin, linked);
    const own = await run(linked, ['--version']);
    expect(own.code, own.stderr).to.equal(0);
    expect(own.stdout.trim()).to.equal(version);
    expect((await run(path.join(root, 'bin', 'gasper.js'), ['-V'])).stdout.trim()).to.equal('unknown');
  });

  it('says how to build it when dist/ is missing, without a stack trace', async () => {
    const root = path.join(dir, 'bare');
    await fs.cp(path.dirname(gasperBin), path.join(root, 'bin'), { recursive: true });
    await fs.writeFile(path.join(root, 'package.json'), JSON.stringify({ type: 'module' }));
    const res = await run(path.join(root, 'bin', 'gasper.js'), ['--help']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.include('the compiled CLI (dist/cli.js) is missing: run `npm run build`');
    expect(res.stderr).not.to.match(/\n\s+at /);
  });
});
