import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/core/config.ts';
import { keys } from '../../src/core/keys.ts';
import { createLogger } from '../../src/core/log.ts';
import { createSecretBox, loadSecretKey } from '../../src/core/secret-box.ts';
import { nodeWorkerOptions } from '../../src/platform.ts';
import { startSsh } from '../../src/ssh/index.ts';
import { containerLabels } from '../../src/core/naming.ts';
import { ensureCliBuilt, gasperBin, runGasper } from '../support/cli.ts';
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
 * `ssh <app>.run@host`: a session in a new one-off container of the app's current release, with
 * the real OpenSSH client (ssh, script) against the whole platform (Docker, Redis, a deployed app).
 */
describe('ssh into a one-off container of an app (<app>.run; OpenSSH client, Docker, Redis)', function () {
  this.timeout(180_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  let client: SshClient;
  let alice: { identity: string; publicKey: string };
  let mallory: { identity: string; publicKey: string };
  let sshPort: number;
  const app = `runssh-${crypto.randomBytes(3).toString('hex')}`;
  const marker = `marker-${crypto.randomBytes(4).toString('hex')}`;

  /** The app's containers of interactive sessions (any state). */
  const sessionContainers = async () =>
    (await managedContainers(gasper.nodeId, app)).filter((c) => c.Labels[containerLabels.session] === 'ssh');

  before(async () => {
    await requireDocker();
    await requireTools('ssh', 'ssh-keygen', 'script', 'tmux');
    // The reconciliation every 2 s: a session's container must outlive many of them.
    gasper = await startTestPlatform({ GASPER_RECONCILE_INTERVAL_MS: '2000' });
    sshPort = gasper.sshPort;
    repo = await createGitRepo(helloNodeApp('hello'));
    client = await SshClient.create();
    alice = await client.keygen('alice');
    mallory = await client.keygen('mallory');
    const res = await gasper
      .api()
      .post('/apps')
      .send({
        name: app,
        repo: { url: repo.url },
        runtime: 'node',
        run: 'node server.js',
        env: { RUN_MARKER_ENV: marker },
      })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, job.log.join('\n')).to.equal('completed');
    await gasper.api().post(`/apps/${app}/ssh-keys`).send({ key: alice.publicKey }).expect(201);
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
    await client?.remove();
  });

  it("runs the command in a new container of the release (not an instance), with the app's env, and its exit status; the container is gone after", async () => {
    const instances = (await managedContainers(gasper.nodeId, app)).filter(
      (c) => c.Labels[containerLabels.role] === 'app',
    );
    expect(instances).to.have.length(1);
    const instanceHost = (await docker.getContainer(instances[0]!.Id).inspect()).Config.Hostname;
    const result = await client.exec(sshPort, `${app}.run`, 'echo $RUN_MARKER_ENV; hostname; id -u; pwd; exit 4', {
      identity: alice.identity,
    });
    expect(result.code, result.stderr).to.equal(4);
    const [env, host, uid, dir] = result.stdout.split('\n');
    expect(env).to.equal(marker);
    expect(host).to.match(/^[0-9a-f]{12}$/);
    expect(host).to.not.equal(instanceHost);
    expect([uid, dir]).to.deep.equal(['10001', '/app']);
    await until(
      async () => ((await sessionContainers()).length === 0 ? true : undefined),
      10_000,
      'no session container',
    );
    // The instance was not touched.
    expect((await docker.getContainer(instances[0]!.Id).inspect()).State.Running).to.equal(true);
  });

  it('gives the container the one-off labels and the release of an instance, and holds its lease while it runs', async () => {
    const ssh = client.spawn(sshPort, `${app}.run`, 'sleep 310', { identity: alice.identity, extra: ['-T'] });
    try {
      const [c] = await until(
        async () => {
          const list = await sessionContainers();
          return list.length ? list : undefined;
        },
        30_000,
        'the session container',
      );
      const [instance] = (await managedContainers(gasper.nodeId, app)).filter(
        (i) => i.Labels[containerLabels.role] === 'app',
      );
      expect(c!.Labels[containerLabels.role]).to.equal('run');
      expect(c!.Labels[containerLabels.installation]).to.equal(instance!.Labels[containerLabels.installation]);
      expect(c!.Labels[containerLabels.release]).to.equal(instance!.Labels[containerLabels.release]);
      expect(c!.Image).to.equal(instance!.Image);
      const info = await docker.getContainer(c!.Id).inspect();
      expect(info.HostConfig.CapDrop).to.deep.equal(['ALL']);
      expect(info.HostConfig.SecurityOpt).to.deep.equal(['no-new-privileges']);
      expect(Object.keys(info.NetworkSettings.Networks)).to.deep.equal(
        Object.keys((await docker.getContainer(instance!.Id).inspect()).NetworkSettings.Networks),
      );
      const redis = new Redis(gasper.platform.redisUrl);
      try {
        const lease = await redis.zscore(keys.runSessions, c!.Names[0]!.replace(/^\//, ''));
        expect(Number(lease)).to.be.greaterThan(Date.now());
      } finally {
        redis.disconnect();
      }
    } finally {
      ssh.kill('SIGKILL');
    }
  });

  for (const mode of ['without', 'with'] as const) {
    it(`removes the container when the client disconnects (${mode} a PTY), and drops its lease`, async () => {
      const ssh = client.spawn(sshPort, `${app}.run`, `sleep ${mode === 'with' ? 321 : 320}`, {
        identity: alice.identity,
        extra: mode === 'with' ? ['-tt'] : ['-T'],
      });
      let name: string;
      try {
        name = await until(
          async () => {
            const [c] = await sessionContainers();
            return c?.State === 'running' ? c.Names[0]!.replace(/^\//, '') : undefined;
          },
          30_000,
          'a running session container',
        );
      } finally {
        ssh.kill('SIGKILL');
      }
      await until(async () => ((await sessionContainers()).length === 0 ? true : undefined), 15_000, 'it to be gone');
      const redis = new Redis(gasper.platform.redisUrl);
      try {
        expect(await redis.zscore(keys.runSessions, name)).to.equal(null);
      } finally {
        redis.disconnect();
      }
    });
  }

  it('passes stdin through, with its end', async () => {
    const result = await client.exec(sshPort, `${app}.run`, 'wc -l', { identity: alice.identity, input: 'a\nb\nc\n' });
    expect(result.stdout.trim()).to.equal('3');
    expect(result.code).to.equal(0);
  });

  it('allocates a TTY when asked (ssh -tt), with the exit status and all the output', async () => {
    const result = await client.exec(sshPort, `${app}.run`, 'tty; echo $TERM; echo done; exit 5', {
      identity: alice.identity,
      extra: ['-tt'],
    });
    expect(result.stdout).to.match(/^\/dev\/pts\/\d+\r\n\S+\r\ndone\r\n$/);
    expect(result.code).to.equal(5);
  });

  it('opens an interactive shell on a PTY (under script) and ends with its exit status', async () => {
    const ssh = ['ssh', ...client.args(sshPort, `${app}.run`, { identity: alice.identity, extra: ['-tt'] })]
      .map((a) => `'${a}'`)
      .join(' ');
    const outcome = await run(
      'sh',
      [
        '-c',
        `(sleep 3; printf 'echo $((6*7)) $RUN_MARKER_ENV; exit 6\\n'; sleep 5) | script -qec "${ssh}" /dev/null; echo "status=$?"`,
      ],
      { env: { PATH: process.env.PATH!, HOME: client.dir }, timeout: 60_000 },
    );
    expect(outcome.stdout).to.match(new RegExp(`^42 ${marker}\\r?$`, 'm'));
    expect(outcome.stdout).to.match(/status=6$/m);
    await until(
      async () => ((await sessionContainers()).length === 0 ? true : undefined),
      10_000,
      'no session container',
    );
  });

  describe('gasper run -it (the compiled CLI, the system ssh)', () => {
    /** The CLI's environment: the API login, the SSH endpoint, and ssh with the test's own identity and known_hosts. */
    const cliEnv = () => {
      const base = client.args(sshPort, 'x', { identity: alice.identity }).slice(0, -1);
      const at = base.indexOf('-p');
      base.splice(at, 2);
      return {
        PATH: process.env.PATH!,
        HOME: client.dir,
        GASPER_URL: gasper.apiUrl,
        GASPER_TOKEN: gasper.token,
        GASPER_SSH: `127.0.0.1:${sshPort}`,
        GASPER_SSH_COMMAND: ['ssh', ...base].map((a) => `'${a}'`).join(' '),
      };
    };
    const quote = (words: string[]) => words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');

    before(async () => {
      await ensureCliBuilt();
    });

    it('runs the command on a TTY in a new container and exits with its status (under script)', async () => {
      const cli = quote([process.execPath, gasperBin, 'run', '-it', app, '--', 'echo $RUN_MARKER_ENV; tty; exit 7']);
      // Through the environment: the outer shell must not expand the command's `$`.
      const outcome = await run('sh', ['-c', 'script -qec "$CLI" /dev/null < /dev/null; echo "status=$?"'], {
        env: { ...cliEnv(), CLI: cli },
        timeout: 60_000,
      });
      // script hands the end of its stdin on as a NUL, which the remote terminal echoes (^@) wherever it falls.
      const stdout = outcome.stdout.replaceAll('^@', '');
      expect(stdout).to.match(new RegExp(`^${marker}\\r?$`, 'm'));
      expect(stdout).to.match(/^\/dev\/pts\/\d+\r?$/m);
      expect(stdout).to.match(/status=7$/m);
    });

    it('opens a shell with no command, and takes what is typed (under script)', async () => {
      const cli = quote([process.execPath, gasperBin, 'run', '-it', app]);
      const outcome = await run(
        'sh',
        [
          '-c',
          `(sleep 3; printf 'echo $((6*7)); exit 8\\n'; sleep 5) | script -qec "${cli}" /dev/null; echo "status=$?"`,
        ],
        { env: cliEnv(), timeout: 60_000 },
      );
      expect(outcome.stdout).to.match(/^42\r?$/m);
      expect(outcome.stdout).to.match(/status=8$/m);
      await until(
        async () => ((await sessionContainers()).length === 0 ? true : undefined),
        10_000,
        'no session container',
      );
    });

    it('passes stdin with -i alone, without a TTY', async () => {
      const result = await runGasper(['run', '-i', app, '--', 'wc -l; test -t 0 || echo no-tty'], cliEnv(), 'a\nb\n');
      expect(result.stdout).to.match(/^\s*2\nno-tty\n$/);
      expect(result.code).to.equal(0);
    });

    it('says where it tried when ssh cannot connect', async () => {
      const result = await runGasper(['run', '-it', app, '--ssh', '127.0.0.1:1', '--', 'true'], cliEnv());
      expect(result.code).to.equal(255);
      expect(result.stderr).to.include('the SSH endpoint 127.0.0.1:1 (from --ssh) may be wrong');
    });
  });

  it('gives a TTY command all its output before the exit status (ssh -tt, 6 runs)', async () => {
    const wrong: string[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await client.exec(sshPort, `${app}.run`, 'echo a; echo b; echo c', {
        identity: alice.identity,
        extra: ['-tt'],
      });
      if (result.stdout !== 'a\r\nb\r\nc\r\n' || result.code !== 0) wrong.push(JSON.stringify(result));
    }
    expect(wrong, `${wrong.length} of 6 runs lost output:\n${wrong.slice(0, 3).join('\n')}`).to.deep.equal([]);
  });

  it("follows window changes (tmux resizes the client's terminal)", async () => {
    const socket = path.join(client.dir, `tmux-${crypto.randomBytes(3).toString('hex')}`);
    const tmux = (...args: string[]) =>
      run('tmux', ['-S', socket, '-f', '/dev/null', ...args], { env: { PATH: process.env.PATH!, HOME: client.dir } });
    const ssh = ['ssh', ...client.args(sshPort, `${app}.run`, { identity: alice.identity, extra: ['-tt'] })]
      .map((a) => `'${a}'`)
      .join(' ');
    await tmux('new-session', '-d', '-x', '100', '-y', '30', ssh);
    try {
      await tmux('set-option', '-g', 'status', 'off');
      const screen = async () => (await tmux('capture-pane', '-p', '-J')).stdout;
      const typed = async (line: string, expected: RegExp) => {
        await tmux('send-keys', '-l', line);
        await tmux('send-keys', 'Enter');
        return until(async () => expected.exec(await screen())?.[0], 20_000, `${expected} on the screen`);
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
    await until(
      async () => ((await sessionContainers()).length === 0 ? true : undefined),
      15_000,
      'no session container',
    );
  });

  it('keeps the container through the reconciliation while its lease runs; once the lease is gone (its SSH service died) the reconciliation removes it', async function () {
    this.timeout(120_000);
    // A service of its own whose lease is not renewed during the test: 10 minutes, renewed every 200 s.
    const config = loadConfig({ GASPER_STATE_DIR: gasper.stateDir, GASPER_NODE_ID: gasper.nodeId });
    const secrets = createSecretBox(await loadSecretKey(gasper.stateDir, undefined));
    const extra = await startSsh(
      {
        host: '127.0.0.1',
        port: 0,
        stateDir: gasper.stateDir,
        redisUrl: gasper.platform.redisUrl,
        nodeId: gasper.nodeId,
        dockerHost: undefined,
        runs: { secrets, worker: nodeWorkerOptions(config), leaseMs: 600_000 },
      },
      { log: createLogger('silent') },
    );
    const ssh = client.spawn(extra.port, `${app}.run`, 'sleep 330', { identity: alice.identity, extra: ['-T'] });
    const exited = new Promise<number | null>((resolve) => ssh.once('exit', (code) => resolve(code)));
    try {
      const c = await until(
        async () => {
          const [found] = await sessionContainers();
          return found?.State === 'running' ? found : undefined;
        },
        30_000,
        'a running session container',
      );
      // Past the 30 s a run container gets without a live job: some fifteen reconciliations later.
      await new Promise((r) => setTimeout(r, Math.max(0, c.Created * 1000 + 34_000 - Date.now())));
      expect((await docker.getContainer(c.Id).inspect()).State.Running, 'kept while its lease runs').to.equal(true);
      const redis = new Redis(gasper.platform.redisUrl);
      try {
        expect(await redis.zrem(keys.runSessions, c.Names[0]!.replace(/^\//, ''))).to.equal(1);
      } finally {
        redis.disconnect();
      }
      await until(
        async () => ((await sessionContainers()).length === 0 ? true : undefined),
        15_000,
        'it to be removed',
      );
      // The client is told: its command ended (killed with its container).
      expect(
        await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]),
      ).to.not.equal('still running');
    } finally {
      ssh.kill('SIGKILL');
      await extra.close();
    }
  });

  it("sends the client to the app's node from another node's service, and refuses without the secret key", async () => {
    const config = loadConfig({ GASPER_STATE_DIR: gasper.stateDir, GASPER_NODE_ID: 'elsewhere' });
    const secrets = createSecretBox(await loadSecretKey(gasper.stateDir, undefined));
    const base = {
      host: '127.0.0.1',
      port: 0,
      stateDir: gasper.stateDir,
      redisUrl: gasper.platform.redisUrl,
      nodeId: 'elsewhere',
      dockerHost: undefined,
    };
    const log = createLogger('silent');
    const other = await startSsh({ ...base, runs: { secrets, worker: nodeWorkerOptions(config) } }, { log });
    const keyless = await startSsh({ ...base, nodeId: gasper.nodeId }, { log });
    try {
      const before = (await managedContainers(gasper.nodeId, app)).length;
      const moved = await client.exec(other.port, `${app}.run`, 'echo no', { identity: alice.identity });
      expect(moved.code).to.equal(1);
      expect(moved.stdout).to.equal('');
      expect(moved.stderr).to.include(
        `app "${app}" runs on node "${gasper.nodeId}", not this one ("elsewhere"): open the session through that node's SSH service: ssh -p ${other.port} ${app}.run@`,
      );
      const refused = await client.exec(keyless.port, `${app}.run`, 'echo no', { identity: alice.identity });
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.include('cannot open one-off containers: it runs without the secret key');
      expect((await managedContainers(gasper.nodeId, app)).length, 'no container made').to.equal(before);
    } finally {
      await other.close();
      await keyless.close();
    }
  });

  it("refuses another user's key, and says when the app has no release", async () => {
    const refused = await client.exec(sshPort, `${app}.run`, 'echo no', { identity: mallory.identity });
    expect(refused.code).to.equal(255);
    expect(refused.stdout).to.equal('');
    expect(refused.stderr).to.match(/Permission denied \(publickey/);

    const bare = `runssh-bare-${crypto.randomBytes(3).toString('hex')}`;
    // Created with a branch that does not exist: the app exists, no release ever does.
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name: bare, repo: { url: repo.url, branch: 'no-such-branch' }, runtime: 'node', run: 'node server.js' })
      .expect(202);
    await gasper.waitForJob(res.body.job.id);
    await gasper.api().post(`/apps/${bare}/ssh-keys`).send({ key: mallory.publicKey }).expect(201);
    const none = await client.exec(sshPort, `${bare}.run`, 'echo no', { identity: mallory.identity });
    expect(none.code).to.equal(1);
    expect(none.stderr).to.include(`app "${bare}" has no release to run in yet`);
  });
});
