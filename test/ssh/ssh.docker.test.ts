import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/core/log.ts';
import { hostKeyFile } from '../../src/ssh/host-key.ts';
import { startSsh, type SshHandle } from '../../src/ssh/index.ts';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { requireTools, SshClient } from '../support/ssh-client.ts';

const run = promisify(execFile);

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * SSH into apps with the real OpenSSH client (ssh, sshpass, tmux, script) against a deployed
 * app: Docker, Redis and the whole platform are real.
 */
describe('ssh into an app (OpenSSH client, Docker, Redis)', function () {
  this.timeout(180_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  let client: SshClient;
  let alice: { identity: string; publicKey: string };
  let mallory: { identity: string; publicKey: string };
  let sshPort: number;
  const app = `ssh-${crypto.randomBytes(3).toString('hex')}`;
  const extraHandles: SshHandle[] = [];

  before(async () => {
    await requireDocker();
    await requireTools('ssh', 'ssh-keygen', 'sshpass', 'tmux', 'script');
    gasper = await startTestPlatform();
    sshPort = gasper.sshPort;
    repo = await createGitRepo(helloNodeApp('hello'));
    client = await SshClient.create();
    alice = await client.keygen('alice');
    mallory = await client.keygen('mallory');
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name: app, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, job.log.join('\n')).to.equal('completed');
    const key = await gasper.api().post(`/apps/${app}/ssh-keys`).send({ key: alice.publicKey }).expect(201);
    expect(key.body.fingerprint).to.equal(await fingerprint(`${alice.identity}.pub`));
  });
  after(async () => {
    for (const handle of extraHandles) await handle.close();
    await gasper?.close();
    await repo?.remove();
    await client?.remove();
  });

  async function fingerprint(pubFile: string): Promise<string> {
    return (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile])).stdout.split(' ')[1]!;
  }

  it('runs a command with its exit status, stdout and stderr kept apart, as the app user in /app', async () => {
    const result = await client.exec(sshPort, app, 'echo out-line; echo err-line >&2; exit 3', {
      identity: alice.identity,
    });
    expect(result).to.deep.equal({ code: 3, stdout: 'out-line\n', stderr: 'err-line\n' });
    const who = await client.exec(sshPort, app, 'id -u; pwd; test -t 0 && echo tty || echo no-tty', {
      identity: alice.identity,
    });
    expect(who.stdout).to.equal('10001\n/app\nno-tty\n');
    expect(who.code).to.equal(0);
  });

  it('passes stdin through, with its end', async () => {
    const result = await client.exec(sshPort, app, 'wc -l', { identity: alice.identity, input: 'one\ntwo\nthree\n' });
    expect(result.stdout.trim()).to.equal('3');
    expect(result.code).to.equal(0);
  });

  it('opens an interactive shell on a PTY (under script)', async () => {
    const ssh = ['ssh', ...client.args(sshPort, app, { identity: alice.identity, extra: ['-tt'] })]
      .map((a) => `'${a}'`)
      .join(' ');
    const { stdout } = await run(
      'sh',
      ['-c', `(sleep 2; printf 'echo $((6*7)); tty; exit\\n') | script -qec "${ssh}" /dev/null`],
      {
        env: { PATH: process.env.PATH!, HOME: client.dir },
        timeout: 30_000,
      },
    );
    expect(stdout).to.match(/^42\r?$/m);
    expect(stdout).to.match(/^\/dev\/pts\/\d+\r?$/m);
  });

  it("gives a PTY command all its output before the exit status, with the client's stdin at its end (ssh -tt, 50 runs)", async function () {
    this.timeout(600_000);
    // The client's stdin is empty, so ssh sends EOF at once: Docker used to close a TTY exec's
    // output on that EOF, and 2 runs in 10 printed nothing or only `a`.
    const runs = async (command: string, count: number, expected: RegExp) => {
      const wrong: string[] = [];
      for (let i = 0; i < count; i++) {
        const result = await client.exec(sshPort, app, command, { identity: alice.identity, extra: ['-tt'] });
        if (!expected.test(result.stdout) || result.code !== 0) wrong.push(JSON.stringify(result));
      }
      return wrong;
    };
    const echoes = await runs('echo a; echo b; echo c', 50, /^a\r\nb\r\nc\r\n$/);
    expect(echoes, `${echoes.length} of 50 runs lost output:\n${echoes.slice(0, 5).join('\n')}`).to.deep.equal([]);
    const ttys = await runs('tty; stty size', 20, /^\/dev\/pts\/\d+\r\n\d+ \d+\r\n$/);
    expect(ttys, `${ttys.length} of 20 runs lost output:\n${ttys.slice(0, 5).join('\n')}`).to.deep.equal([]);
  });

  it('follows window changes (tmux resizes the client terminal)', async () => {
    const socket = path.join(client.dir, `tmux-${crypto.randomBytes(3).toString('hex')}`);
    const tmux = (...args: string[]) =>
      run('tmux', ['-S', socket, '-f', '/dev/null', ...args], { env: { PATH: process.env.PATH!, HOME: client.dir } });
    const ssh = ['ssh', ...client.args(sshPort, app, { identity: alice.identity, extra: ['-tt'] })]
      .map((a) => `'${a}'`)
      .join(' ');
    await tmux('new-session', '-d', '-x', '100', '-y', '30', ssh);
    try {
      await tmux('set-option', '-g', 'status', 'off');
      const screen = async () => (await tmux('capture-pane', '-p', '-J')).stdout;
      const typed = async (line: string, expected: RegExp) => {
        await tmux('send-keys', '-l', line);
        await tmux('send-keys', 'Enter');
        return until(async () => expected.exec(await screen())?.[0], 15_000, `${expected} on the screen`);
      };
      await typed('echo $((6*7))', /^42$/m);
      const size = async () => (await tmux('display-message', '-p', '#{pane_height} #{pane_width}')).stdout.trim();
      expect(await typed('stty size', new RegExp(`^${await size()}$`, 'm'))).to.equal(await size());
      await tmux('resize-window', '-x', '120', '-y', '40');
      expect(await size()).to.equal('40 120');
      await typed('clear; stty size', /^40 120$/m);
    } finally {
      await tmux('kill-server').catch(() => {});
    }
  });

  it('accepts the app password (sshpass) and refuses a wrong one', async () => {
    await gasper.api().put(`/apps/${app}/ssh-password`).send({ password: 'correct horse battery' }).expect(204);
    const ok = await client.exec(sshPort, app, 'echo via-password', { password: 'correct horse battery' });
    expect(ok.stdout).to.equal('via-password\n');
    expect(ok.code).to.equal(0);
    const wrong = await client.exec(sshPort, app, 'echo no', { password: 'wrong horse battery' });
    expect(wrong.code).to.equal(255);
    expect(wrong.stdout).to.equal('');
    expect(wrong.stderr).to.match(/Permission denied/);
    // Only the scrypt hash is stored.
    const redis = new Redis(gasper.platform.redisUrl);
    try {
      const stored = await redis.get(`gasper:app:${app}:ssh-password`);
      expect(stored)
        .to.match(/^scrypt\$32768\$8\$1\$/)
        .and.not.include('correct horse');
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a key that is not registered, and an unknown app', async () => {
    const wrongKey = await client.exec(sshPort, app, 'echo no', { identity: mallory.identity });
    expect(wrongKey.code).to.equal(255);
    expect(wrongKey.stdout).to.equal('');
    expect(wrongKey.stderr).to.match(/Permission denied \(publickey/);
    const unknownApp = await client.exec(sshPort, `nope-${crypto.randomBytes(3).toString('hex')}`, 'echo no', {
      identity: alice.identity,
    });
    expect(unknownApp.code).to.equal(255);
    expect(unknownApp.stderr).to.match(/Permission denied/);
  });

  it('picks an instance with <app>.<n> and says when there is no such instance', async () => {
    const first = await client.exec(sshPort, `${app}.0`, 'echo $PORT', { identity: alice.identity });
    expect(first).to.deep.include({ code: 0, stdout: '8080\n' });
    const missing = await client.exec(sshPort, `${app}.4`, 'echo no', { identity: alice.identity });
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include(`app "${app}" has no instance 4`);
  });

  for (const mode of ['without', 'with'] as const) {
    it(`ends the process in the container when the client disconnects (${mode} a PTY)`, async () => {
      const marker = 300 + (mode === 'with' ? 1 : 0);
      const [container] = await managedContainers(gasper.nodeId, app);
      const top = async () =>
        (
          (await docker.getContainer(container!.Id).top({ ps_args: '-eo pid,args' })) as { Processes: string[][] }
        ).Processes.map((p) => p.join(' '));
      const sleeping = async () => (await top()).some((p) => p.includes(`sleep ${marker}`));
      const ssh = client.spawn(sshPort, app, `sleep ${marker}`, {
        identity: alice.identity,
        extra: mode === 'with' ? ['-tt'] : ['-T'],
      });
      try {
        await until(async () => ((await sleeping()) ? true : undefined), 20_000, `sleep ${marker} in docker top`);
      } finally {
        ssh.kill('SIGKILL');
      }
      await until(
        async () => ((await sleeping()) ? undefined : true),
        15_000,
        `sleep ${marker} to be gone from docker top`,
      );
    });
  }

  it('keeps its host key across a restart: the same known_hosts still verifies', async () => {
    const stat = await fs.stat(hostKeyFile(gasper.stateDir));
    expect(stat.mode & 0o777).to.equal(0o600);
    const before = await fs.readFile(hostKeyFile(gasper.stateDir), 'utf8');
    await gasper.platform.ssh!.close();
    const log = createLogger('silent');
    const options = {
      host: '127.0.0.1',
      port: sshPort,
      stateDir: gasper.stateDir,
      redisUrl: gasper.platform.redisUrl,
      nodeId: gasper.nodeId,
      dockerHost: undefined,
    };
    const restarted = await startSsh(options, { log });
    extraHandles.push(restarted);
    expect(await fs.readFile(hostKeyFile(gasper.stateDir), 'utf8')).to.equal(before);
    const again = await client.exec(restarted.port, app, 'echo again', { identity: alice.identity, strict: true });
    expect(again, again.stderr).to.deep.include({ code: 0, stdout: 'again\n' });

    // The check has teeth: a service with another state directory (another key) is refused.
    await restarted.close();
    const otherState = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-state-'));
    try {
      const impostor = await startSsh({ ...options, stateDir: otherState }, { log });
      extraHandles.push(impostor);
      const refused = await client.exec(impostor.port, app, 'echo no', { identity: alice.identity, strict: true });
      expect(refused.code).to.equal(255);
      expect(refused.stderr).to.match(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
      await impostor.close();
    } finally {
      await fs.rm(otherState, { recursive: true, force: true });
    }
    const back = await startSsh(options, { log });
    extraHandles.push(back);
  });

  it('removes the key: a deleted key is refused; deleting the app removes its ssh keys and password', async () => {
    const list = await gasper.api().get(`/apps/${app}/ssh-keys`).expect(200);
    expect(list.body.keys).to.have.length(1);
    await gasper.api().delete(`/apps/${app}/ssh-keys/${list.body.keys[0].id}`).expect(204);
    const refused = await client.exec(sshPort, app, 'echo no', { identity: alice.identity });
    expect(refused.code).to.equal(255);

    await gasper.api().post(`/apps/${app}/ssh-keys`).send({ key: alice.publicKey }).expect(201);
    const res = await gasper.api().delete(`/apps/${app}`).expect(202);
    expect((await gasper.waitForJob(res.body.job.id)).state).to.equal('completed');
    const redis = new Redis(gasper.platform.redisUrl);
    try {
      expect(await redis.keys(`gasper:app:${app}*`)).to.deep.equal([]);
    } finally {
      redis.disconnect();
    }
  });
});
