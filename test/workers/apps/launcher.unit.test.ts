import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  heldCommand,
  launchDir,
  launcherCommand,
  markReleaseReady,
  prepareReleaseCommands,
  pruneLaunchDirs,
  writeRunCommand,
} from '../../../src/workers/apps/launcher.ts';
import { readRepoListing } from '../../../src/workers/apps/repo-listing.ts';

const run = promisify(execFile);

/** The I/O around the conventions, on a temporary directory: listing, run file, launcher, pruning. */
describe('repository listing and launcher (filesystem)', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-launcher-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  async function write(files: Record<string, string>, dir = root) {
    for (const [name, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await fs.writeFile(path.join(dir, name), content);
    }
  }

  it('lists two levels, marks directories, skips vendored trees, reads only the convention files', async () => {
    await write({
      'package.json': '{"scripts":{"start":"node s.js"}}',
      Procfile: 'web: node s.js',
      Gemfile: 'source "x"',
      'public/index.php': '<?php',
      'public/css/a.css': '',
      'node_modules/x/index.js': '',
      'vendor/bundle/y': '',
    });
    const listing = await readRepoListing(root);
    expect([...listing.entries].sort()).to.deep.equal([
      'Gemfile',
      'Procfile',
      'node_modules/',
      'package.json',
      'public/',
      'public/css/',
      'public/index.php',
      'vendor/',
    ]);
    expect(listing.contents).to.deep.equal({
      Procfile: 'web: node s.js',
      'package.json': '{"scripts":{"start":"node s.js"}}',
    });
  });

  it('never follows a symbolic link to read a convention file', async () => {
    await write({ 'outside/secret.json': '{"scripts":{"start":"cat /etc/shadow"}}' });
    const repo = path.join(root, 'repo');
    await fs.mkdir(repo);
    await fs.symlink(path.join(root, 'outside/secret.json'), path.join(repo, 'package.json'));
    const listing = await readRepoListing(repo);
    expect(listing.entries).to.deep.equal(['package.json']);
    expect(listing.contents).to.deep.equal({});
  });

  it('the launcher runs the written command with sh -c, with the container env', async () => {
    const dir = path.join(root, 'launch');
    await writeRunCommand(dir, 'echo "port=$PORT" "$(basename "$0")"; exit 7');
    expect(await fs.readFile(path.join(dir, 'run'), 'utf8')).to.equal('echo "port=$PORT" "$(basename "$0")"; exit 7\n');
    expect((await fs.stat(path.join(dir, 'run'))).mode & 0o777).to.equal(0o644);
    // The launcher reads a fixed path; point it at the temporary directory to run it here.
    const script = launcherCommand.replace('/etc/gasper/launch', dir);
    const result = await run('sh', ['-c', script], { env: { PATH: process.env.PATH, PORT: '5123' } }).catch((e) => e);
    expect(result.code).to.equal(7);
    expect(result.stdout).to.equal('port=5123 sh\n');
  });

  it('a held container runs nothing until its release is marked ready, then execs the command (same process)', async () => {
    const dir = path.join(root, 'launch', 'r000001');
    await fs.mkdir(dir, { recursive: true });
    // A command with quotes and expansions, run as written; `$$` shows it is the script's own process.
    const script = heldCommand(`echo "it's $PORT" 'pid' $$; exit 7`).replace('/etc/gasper/launch', dir);
    const child = spawn('sh', ['-c', script], { env: { PATH: process.env.PATH, PORT: '5123' } });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Past the fast checks (half a second) into the slow ones: still waiting, nothing run.
    await new Promise((r) => setTimeout(r, 700));
    expect(child.exitCode).to.equal(null);
    expect(stdout).to.equal('');
    await markReleaseReady(dir);
    await markReleaseReady(dir); // harmless to repeat
    expect(await exited).to.equal(7);
    expect(stdout).to.equal(`it's 5123 pid ${child.pid}\n`);
  });

  it('the launcher fails to start when no run command was written', async () => {
    const script = launcherCommand.replace('/etc/gasper/launch', path.join(root, 'missing'));
    const result = await run('sh', ['-c', script]).catch((e) => e);
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.match(/No such file/);
  });

  it('writes the run command for an app without run, and none for an app with one', async () => {
    const appDir = path.join(root, 'app');
    const releaseDir = path.join(appDir, 'releases', 'r000002');
    await write({ 'package.json': '{"scripts":{"start":"node s.js"}}', 'package-lock.json': '{}' }, releaseDir);

    const plan = await prepareReleaseCommands({ app: 'web', appDir, release: 'r000002', releaseDir, runtime: 'node' });
    expect(plan.build.commands).to.deep.equal(['npm ci --no-audit --no-fund']);
    expect(await fs.readFile(path.join(launchDir(appDir, 'r000002'), 'run'), 'utf8')).to.equal('node s.js\n');

    await fs.rm(launchDir(appDir, 'r000002'), { recursive: true });
    const given = await prepareReleaseCommands({
      app: 'web',
      appDir,
      release: 'r000002',
      releaseDir,
      runtime: 'node',
      run: 'node s.js',
      build: [],
    });
    expect(given.run.command).to.equal('node s.js');
    expect(given.build.commands).to.deep.equal([]);
    expect(await fs.stat(launchDir(appDir, 'r000002')).catch(() => undefined)).to.equal(undefined);
  });

  it('prunes launch directories whose release directory is gone', async () => {
    const appDir = path.join(root, 'app');
    await write({ 'releases/r000003/x': '', 'launch/r000001/run': 'a', 'launch/r000003/run': 'b' }, appDir);
    await pruneLaunchDirs(appDir);
    expect(await fs.readdir(path.join(appDir, 'launch'))).to.deep.equal(['r000003']);
    await pruneLaunchDirs(path.join(root, 'no-such-app'));
  });
});
