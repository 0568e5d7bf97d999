import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { type CliResult, ensureCliBuilt, runGasper } from '../support/cli.ts';
import { requireDocker } from '../support/docker.ts';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

/** The `gasper` command as a user runs it (compiled), with its own config directory. */
const gasper = runGasper;

describe('gasper CLI client (against a running platform)', function () {
  this.timeout(180_000);
  let platform: TestPlatform;
  let repo: GitFixture;
  let configHome: string;
  let env: Record<string, string>;

  before(async () => {
    await requireDocker();
    await ensureCliBuilt();
    platform = await startTestPlatform();
    repo = await createGitRepo(helloNodeApp('cli'));
    configHome = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-cli-'));
    env = { XDG_CONFIG_HOME: configHome };
  });
  after(async () => {
    await platform?.close();
    await repo?.remove();
    if (configHome) await fs.rm(configHome, { recursive: true, force: true });
  });

  it('logs in, keeping the token in a file only its owner can read', async () => {
    const bad = await gasper(['login', platform.apiUrl, '--token', 'wrong-token'], env);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('invalid token');
    const res = await gasper(['login', platform.apiUrl, '--token', platform.token], env);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.include('as admin (admin)');
    const file = path.join(configHome, 'gasper', 'client.json');
    expect((await fs.stat(file)).mode & 0o777).to.equal(0o600);
  });

  it('creates an app, following the deploy with a progress bar, then lists, shows and deletes it', async () => {
    const name = `cli-${crypto.randomBytes(3).toString('hex')}`;
    const created = await gasper(
      [
        'apps',
        'create',
        name,
        '--repo',
        repo.url,
        '--runtime',
        'node',
        '--run',
        'node server.js',
        '--env',
        'GREETING=terminal',
      ],
      env,
    );
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stdout).to.include(`${name} is live at http://${name}.localhost:${platform.proxyPort}`);
    expect(created.stderr).to.match(/\[#+\] 100% {2}deployed/);
    expect((await viaProxy(platform.proxyPort, `${name}.localhost`)).body).to.equal('cli terminal\n');

    const list = await gasper(['apps', 'list'], env);
    expect(list.stdout)
      .to.match(/^NAME\s+STATUS\s+URL/m)
      .and.match(new RegExp(`^${name}\\s+running\\s+http://`, 'm'));
    const shown = await gasper(['--json', 'apps', 'show', name], env);
    expect(JSON.parse(shown.stdout).app).to.include({ name, status: 'running' });
    const human = await gasper(['apps', 'show', name], env);
    expect(human.stdout).to.include(`${name}  (running)`).and.include('env:        GREETING');

    const deleted = await gasper(['apps', 'delete', name], env);
    expect(deleted.code, deleted.stderr).to.equal(0);
    expect(deleted.stdout).to.include(`${name} deleted`);
    expect((await gasper(['apps', 'show', name], env)).stderr).to.include(`app "${name}" not found`);
  });

  it("shows an app's logs, restarts it, and rolls back an env change", async () => {
    const name = `clilog-${crypto.randomBytes(3).toString('hex')}`;
    const created = await gasper(
      [
        'apps',
        'create',
        name,
        '--repo',
        repo.url,
        '--runtime',
        'node',
        '--run',
        'echo booted-for-the-cli; node server.js',
      ],
      env,
    );
    expect(created.code, created.stderr).to.equal(0);
    // The node worker collects the app's output into Redis a moment after it is printed.
    let logs: CliResult | undefined;
    for (let i = 0; i < 40; i++) {
      logs = await gasper(['apps', 'logs', name, '--tail', '20'], env);
      if (logs.stdout.includes('booted-for-the-cli')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(logs!.code, logs!.stderr).to.equal(0);
    expect(logs!.stdout).to.match(
      new RegExp(`^\\d{4}-\\S+ gasper-[0-9a-f]{8}-${name}-r000001-\\d+ booted-for-the-cli$`, 'm'),
    );
    const restarted = await gasper(['apps', 'restart', name], env);
    expect(restarted.code, restarted.stderr).to.equal(0);
    expect(restarted.stdout).to.include(`${name} restarted`);
    expect((await viaProxy(platform.proxyPort, `${name}.localhost`)).status).to.equal(200);
    // A rollback brings back the release's env with its code, and says which variables that changed.
    expect((await gasper(['env', 'set', name, 'GREETING=hey'], env)).code).to.equal(0);
    const back = await gasper(['rollback', name], env);
    expect(back.code, back.stderr).to.equal(0);
    expect(back.stdout.trim()).to.equal(
      `${name} rolled back to r000001 (its code and env as they were then: GREETING no longer set)`,
    );
    expect((await gasper(['apps', 'delete', name], env)).code).to.equal(0);
  });

  it('names every bad field of a refused request and exits with 1', async () => {
    const res = await gasper(['apps', 'create', 'Bad_Name', '--repo', 'ext::sh -c id', '--runtime', 'cobol'], env);
    expect(res.code).to.equal(1);
    expect(res.stderr)
      .to.include('gasper: invalid request')
      .and.include('  name: ')
      .and.include('  repo.url: ')
      .and.include('  runtime: ');
  });

  it('waits for a failing deploy and exits with 1, showing why', async () => {
    const name = `clifail-${crypto.randomBytes(3).toString('hex')}`;
    const res = await gasper(
      ['apps', 'create', name, '--repo', repo.url, '--runtime', 'node', '--build', 'echo broken >&2; exit 4'],
      env,
    );
    expect(res.code).to.equal(1);
    expect(res.stdout).to.include('failed: build command 1').and.include('broken');
    const jobId = JSON.parse((await gasper(['--json', 'apps', 'show', name], env)).stdout).app.lastJob.id;
    const waited = await gasper(['jobs', 'wait', jobId], env);
    expect(waited.code).to.equal(1);
  });

  it('a first deploy from a branch that is not there says what to run, and apps repo fixes it', async () => {
    const name = `clibranch-${crypto.randomBytes(3).toString('hex')}`;
    const res = await gasper(
      ['apps', 'create', name, '--repo', repo.url, '--branch', 'nope', '--runtime', 'node'],
      env,
    );
    expect(res.code).to.equal(1);
    expect(res.stdout).to.equal(
      `failed: git clone failed: branch nope not found in ${repo.url}\n` +
        `gasper apps repo ${name} --branch <branch> (or --default-branch) deploys another branch\n`,
    );
    const fixed = await gasper(['apps', 'repo', name, '--default-branch'], env);
    expect(fixed.code, fixed.stderr).to.equal(0);
    expect(fixed.stdout).to.include(`${name}: repository now ${repo.url} (default branch, whole repository)`);
    expect(JSON.parse((await gasper(['--json', 'apps', 'show', name], env)).stdout).app.status).to.equal('running');
  });

  it('works from GASPER_URL and GASPER_TOKEN without a login', async () => {
    const res = await gasper(['--json', 'apps', 'list'], {
      XDG_CONFIG_HOME: path.join(configHome, 'none'),
      GASPER_URL: platform.apiUrl,
      GASPER_TOKEN: platform.token,
    });
    expect(res.code, res.stderr).to.equal(0);
    expect(JSON.parse(res.stdout)).to.have.property('apps');
    const none = await gasper(['apps', 'list'], { XDG_CONFIG_HOME: path.join(configHome, 'none') });
    expect(none.code).to.equal(1);
    expect(none.stderr).to.include('not logged in');
  });
});
