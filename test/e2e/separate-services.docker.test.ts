import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { dig } from '../support/dig.ts';
import { managedContainers, removeNodeContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import { eventually, newSecretKey, type GasperProcess } from '../support/node-processes.ts';
import type { JobView } from '../support/platform.ts';
import { viaProxy } from '../support/platform.ts';
import { startTestRedis } from '../support/redis.ts';
import { freePort, spawnService, untilUp } from '../support/service-processes.ts';
import { requireTools, SshClient } from '../support/ssh-client.ts';

/**
 * The platform as it runs over several machines: one Redis, and `gasper api`, `gasper proxy`,
 * `gasper dns`, `gasper ssh` and `gasper worker` as five processes, each with its own state
 * directory and only the variables its service needs. An app created through the API with a
 * real HTTP client is built by the worker, served by the proxy, resolved by the DNS and reached
 * over SSH; SIGTERM then stops every process with exit code 0 and no container is left.
 */
describe('services as separate processes (Docker, Redis, processes)', function () {
  this.timeout(300_000);
  const suffix = crypto.randomBytes(3).toString('hex');
  const nodeId = `t-apart-${suffix}`;
  const app = `apart-${suffix}`;
  const token = `test-${crypto.randomBytes(16).toString('hex')}`;
  const logLevel = process.env.GASPER_TEST_LOG_LEVEL ?? 'info';
  let redis: EmbeddedRedisHandle;
  let repo: GitFixture;
  let ssh: SshClient;
  const stateDirs: Record<string, string> = {};
  const procs: Record<string, GasperProcess> = {};
  const ports = { api: 0, proxy: 0, dns: 0, ssh: 0 };
  const apiUrl = () => `http://127.0.0.1:${ports.api}`;
  const call = async (method: string, urlPath: string, body?: unknown) => {
    const res = await fetch(`${apiUrl()}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, any> };
  };
  const waitForJob = (id: string) =>
    eventually(
      `job ${id} to finish`,
      async () => {
        const { body } = await call('GET', `/jobs/${id}`);
        const job = body.job as JobView;
        return job.state === 'completed' || job.state === 'failed' ? job : undefined;
      },
      180_000,
    );
  const outputs = () =>
    Object.entries(procs)
      .map(([name, p]) => `--- ${name}:\n${p.output()}`)
      .join('\n');

  before(async function () {
    this.timeout(120_000);
    await requireDocker();
    await requireTools('ssh', 'ssh-keygen', 'dig');
    redis = await startTestRedis();
    repo = await createGitRepo(helloNodeApp('apart'));
    ssh = await SshClient.create();
    for (const name of ['api', 'proxy', 'dns', 'ssh', 'worker'])
      stateDirs[name] = await fs.mkdtemp(path.join(os.tmpdir(), `gasper-test-${name}-`));
    for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort();
    const secretKey = newSecretKey();
    const common = (name: string) => ({
      REDIS_URL: redis.url,
      GASPER_STATE_DIR: stateDirs[name]!,
      GASPER_LOG_LEVEL: logLevel,
    });

    // The worker: Docker and the secret key, no admin token, no ports.
    procs.worker = spawnService('worker', {
      ...common('worker'),
      GASPER_SECRET_KEY: secretKey,
      GASPER_NODE_ID: nodeId,
      GASPER_ALLOW_LOCAL_REPOS: '1',
    });
    // The API: the admin token and the secret key; a DOCKER_HOST nobody answers on proves it never needs Docker.
    procs.api = spawnService('api', {
      ...common('api'),
      GASPER_SECRET_KEY: secretKey,
      GASPER_ADMIN_TOKEN: token,
      GASPER_API_HOST: '127.0.0.1',
      GASPER_API_PORT: String(ports.api),
      GASPER_PROXY_PORT: String(ports.proxy),
      GASPER_ALLOW_LOCAL_REPOS: '1',
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    // Proxy and DNS: Redis and their listening address only.
    procs.proxy = spawnService('proxy', {
      ...common('proxy'),
      GASPER_PROXY_HOST: '127.0.0.1',
      GASPER_PROXY_PORT: String(ports.proxy),
      GASPER_HTTPS_PORT: '0',
    });
    procs.dns = spawnService('dns', {
      ...common('dns'),
      GASPER_DNS_HOST: '127.0.0.1',
      GASPER_DNS_PORT: String(ports.dns),
    });
    // SSH runs beside the worker of its node (it execs into that node's containers).
    procs.ssh = spawnService('ssh', {
      ...common('ssh'),
      GASPER_NODE_ID: nodeId,
      GASPER_SSH_HOST: '127.0.0.1',
      GASPER_SSH_PORT: String(ports.ssh),
      GASPER_TERMINAL_PORT: '0',
    });
    try {
      for (const [name, proc] of Object.entries(procs)) await untilUp(proc, name);
      await eventually(
        'the worker node to be up',
        async () => {
          const { body } = await call('GET', '/nodes');
          return (body.nodes as { id: string; state: string }[]).some((n) => n.id === nodeId && n.state === 'up');
        },
        60_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${outputs()}`);
    }
  });

  after(async function () {
    this.timeout(60_000);
    for (const proc of Object.values(procs)) await proc.stop('SIGKILL');
    await removeNodeContainers(nodeId);
    await redis?.close();
    await repo?.remove();
    await ssh?.remove();
    for (const dir of Object.values(stateDirs)) await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps each secret where it is needed: only API and worker hold the secret key', async () => {
    for (const name of ['proxy', 'dns', 'ssh']) {
      const files = await fs.readdir(stateDirs[name]!);
      expect(files, name).to.not.include('secret.key');
    }
    // Both were given GASPER_SECRET_KEY: neither wrote one of its own.
    for (const name of ['api', 'worker']) expect(await fs.readdir(stateDirs[name]!), name).to.not.include('secret.key');
  });

  it('deploys an app through the API, serves it through the proxy, resolves it in DNS and opens SSH into it', async () => {
    const created = await call('POST', '/apps', {
      name: app,
      repo: { url: repo.url },
      runtime: 'node',
      run: 'node server.js',
      env: { GREETING: 'apart' },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    const job = await waitForJob(created.body.job.id as string);
    expect(job.state, `${job.error}\n${job.log.join('\n')}\n${outputs()}`).to.equal('completed');

    const reply = await eventually('the proxy to route the app', async () => {
      const r = await viaProxy(ports.proxy, `${app}.localhost:${ports.proxy}`);
      return r.status === 200 ? r : undefined;
    });
    expect(reply.body).to.equal('apart apart\n');

    const answer = await eventually('the DNS to know the app', async () => {
      const r = await dig(ports.dns, `${app}.localhost`, 'A');
      return r.status === 'NOERROR' && r.answer.length > 0 ? r : undefined;
    });
    expect(answer.flags).to.include('aa');
    expect(answer.answer.map((a) => a.data)).to.deep.equal(['127.0.0.1']);

    const alice = await ssh.keygen('alice');
    expect((await call('POST', `/apps/${app}/ssh-keys`, { key: alice.publicKey })).status).to.equal(201);
    const shell = await ssh.exec(ports.ssh, app, 'echo "$GREETING from $(hostname)"', { identity: alice.identity });
    expect(shell.code, shell.stderr).to.equal(0);
    expect(shell.stdout).to.match(/^apart from \S+\n$/);
  });

  it('deletes the app, then stops every process on SIGTERM with exit code 0 and leaves no container', async () => {
    const deleted = await call('DELETE', `/apps/${app}`);
    expect(deleted.status, JSON.stringify(deleted.body)).to.equal(202);
    const job = await waitForJob(deleted.body.job.id as string);
    expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');

    for (const [name, proc] of Object.entries(procs)) {
      proc.child.kill('SIGTERM');
      const code = await Promise.race([proc.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
      expect(code, `gasper ${name} on SIGTERM:\n${proc.output()}`).to.equal(0);
      expect(proc.output(), name).to.include('shutting down');
    }
    expect(await managedContainers(nodeId)).to.deep.equal([]);
  });
});
