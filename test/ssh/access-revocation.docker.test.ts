import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import ssh2 from 'ssh2';
import supertest from 'supertest';
import { WebSocket } from 'ws';
import { ensureAdminToken } from '../../src/api/auth.ts';
import { startApi, type ApiHandle } from '../../src/api/index.ts';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { createSecretBox } from '../../src/core/secret-box.ts';
import { startSsh, type SshHandle } from '../../src/ssh/index.ts';
import { hashPassword } from '../../src/ssh/password.ts';
import { AppStore } from '../../src/store/apps.ts';
import { SshCredentialStore } from '../../src/store/ssh-credentials.ts';
import { TerminalTicketStore } from '../../src/store/terminal-tickets.ts';
import { defaultOptions } from '../api/api-fixture.ts';
import { docker, requireDocker } from '../support/docker.ts';
import { startTestRedis } from '../support/redis.ts';

/** A web terminal straight to the SSH service's listener: its output, control messages and close. */
function openTerminal(port: number, ticket: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/terminal`, ['gasper.terminal.v1', `ticket.${ticket}`]);
  const state = { output: '', messages: [] as any[], close: undefined as { code: number; reason: string } | undefined };
  ws.on('message', (data, isBinary) => {
    if (isBinary) state.output += data.toString();
    else state.messages.push(JSON.parse(data.toString()));
  });
  const closed = new Promise<void>((resolve) =>
    ws.on('close', (code, reason) => {
      state.close = { code, reason: reason.toString() };
      resolve();
    }),
  );
  ws.on('error', () => {});
  return Object.assign(state, { ws, closed, type: (text: string) => ws.send(Buffer.from(text), { binary: true }) });
}

/** An SSH shell with the app's password (the ssh2 client): its output, stderr and when the connection closed. */
async function openShell(port: number, app: string, password: string) {
  const client = new ssh2.Client();
  const state = { output: '', stderr: '', closedAt: 0 };
  const closed = new Promise<void>((resolve) =>
    client.on('close', () => {
      state.closedAt = Date.now();
      resolve();
    }),
  );
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: app, password, readyTimeout: 20_000 });
  });
  const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
    client.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, ch) => (err ? reject(err) : resolve(ch))),
  );
  channel.on('data', (d: Buffer) => (state.output += d.toString()));
  channel.stderr.on('data', (d: Buffer) => (state.stderr += d.toString()));
  return Object.assign(state, { client, channel, closed });
}

async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function within(promise: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A transfer ends the old owner's open shells: the web terminal of the old owner and an SSH
 * connection made with the app's (now revoked) password close within about a second, each saying
 * why, while an admin's web terminal goes on. A real container (Docker), Redis, SSH service, API
 * and transfer route; the app's instance is a plain container rather than a deploy.
 */
describe('losing an app ends its open web terminals and SSH sessions (Docker, Redis)', function () {
  this.timeout(120_000);
  let redisHandle: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let api: ApiHandle;
  let sshService: SshHandle;
  let stateDir: string;
  const adminToken = `test-${crypto.randomBytes(16).toString('hex')}`;
  const app = `rvk-${crypto.randomBytes(3).toString('hex')}`;
  const container = `gasper-test-revoke-${crypto.randomBytes(4).toString('hex')}`;
  const password = 'correct horse battery staple';
  const opened: { close(): void }[] = [];

  before(async () => {
    await requireDocker();
    const created = await docker.createContainer({
      name: container,
      Image: 'gasper/node:latest',
      Cmd: ['sleep', 'infinity'],
      Labels: { 'gasper.test': 'access-revocation' },
    });
    await created.start();
    redisHandle = await startTestRedis();
    redis = connectRedis(redisHandle.url);
    await ensureAdminToken(redis, adminToken);
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-revoke-'));
    sshService = await startSsh(
      {
        host: '127.0.0.1',
        port: 0,
        stateDir,
        redisUrl: redisHandle.url,
        nodeId: 'n1',
        dockerHost: undefined,
        terminal: { host: '127.0.0.1', port: 0 },
      },
      { log: createLogger('silent'), docker },
    );
    api = await startApi(
      { ...defaultOptions, host: '127.0.0.1', port: 0, redisUrl: redisHandle.url, jobAttempts: 1 },
      { log: createLogger('silent'), secrets: createSecretBox(crypto.randomBytes(32).toString('hex')) },
    );
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
  });
  after(async () => {
    await sshService?.close();
    await api?.close();
    redis?.disconnect();
    await redisHandle?.close();
    await docker
      .getContainer(container)
      .remove({ force: true })
      .catch(() => {});
    if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
  });

  const post = (p: string, token: string) =>
    supertest(`http://127.0.0.1:${api.port}`).post(p).set('authorization', `Bearer ${token}`);

  /** An app whose one instance is the test's container. */
  async function createApp(name: string, owner: string): Promise<void> {
    const now = new Date().toISOString();
    await new AppStore(redis).create(
      {
        name,
        uid: crypto.randomBytes(4).toString('hex'),
        owner,
        repo: { url: 'file:///x' },
        runtime: 'node',
        port: 3000,
        sealedEnv: {},
        node: 'n1',
        status: 'running',
        instances: [{ node: 'n1', address: '127.0.0.1', port: 3000, container }],
        createdAt: now,
        updatedAt: now,
      },
      1,
    );
  }

  it('closes the old owner’s terminal and SSH shell with the reason; the admin’s terminal goes on', async function () {
    const alice = (
      await post('/users', adminToken)
        .send({ name: `alice-${app}` })
        .expect(201)
    ).body;
    const bob = (
      await post('/users', adminToken)
        .send({ name: `bob-${app}` })
        .expect(201)
    ).body;
    await createApp(app, alice.user.name);
    await new SshCredentialStore(redis).setPasswordHash(app, await hashPassword(password));
    const tickets = new TerminalTicketStore(redis);

    const mine = openTerminal(sshService.terminalPort!, (await tickets.issue({ user: alice.user.name, app })).ticket);
    const admins = openTerminal(sshService.terminalPort!, (await tickets.issue({ user: 'admin', app })).ticket);
    opened.push({ close: () => mine.ws.terminate() }, { close: () => admins.ws.terminate() });
    await until(() => mine.messages.some((m) => m.type === 'ready'), 20_000, "alice's terminal ready");
    await until(() => admins.messages.some((m) => m.type === 'ready'), 20_000, "the admin's terminal ready");
    const shell = await openShell(sshService.port, app, password);
    opened.push({ close: () => shell.client.end() });
    shell.channel.write('echo ssh-$((40+2))\n');
    await until(() => shell.output.includes('ssh-42'), 20_000, 'the SSH shell to answer');
    mine.type('echo term-$((40+2))\n');
    await until(() => mine.output.includes('term-42'), 20_000, "alice's terminal to answer");
    // Past the watch's first look at the new sessions, so the transfer is seen as a change.
    await new Promise((r) => setTimeout(r, 800));

    const at = Date.now();
    await post(`/apps/${app}/transfer`, alice.token).send({ to: bob.user.name }).expect(200);
    await within(mine.closed, 2500, "alice's terminal");
    await within(shell.closed, 2500, 'the SSH connection');
    expect(Date.now() - at).to.be.below(2500);

    const notice = '[gasper] this app was transferred to another user; session closed';
    expect(mine.output).to.include(notice);
    expect(mine.close).to.deep.equal({ code: 4403, reason: notice });
    expect(mine.messages.at(-1)).to.deep.equal({ type: 'error', message: notice });
    expect(shell.stderr).to.include(notice);

    // The admin's terminal is open and its shell answers.
    expect(admins.close).to.equal(undefined);
    admins.type('echo admin-$((40+2))\n');
    await until(() => admins.output.includes('admin-42'), 20_000, "the admin's terminal to answer");
    expect(admins.close).to.equal(undefined);

    // The old password went with the transfer: no new connection either.
    const refused = await openShell(sshService.port, app, password).then(
      () => 'accepted',
      (err: Error) => err.message,
    );
    expect(refused).to.match(/authentication/i);
  });

  it('revoking the token a terminal was asked for with ends it; deleting the app ends the rest', async function () {
    const carol = (
      await post('/users', adminToken)
        .send({ name: `carol-${app}` })
        .expect(201)
    ).body;
    const other = `${app}-b`;
    await createApp(other, carol.user.name);
    // Through the API, as the dashboard asks: the ticket remembers the token.
    const ask = async (token: string) =>
      (await post(`/apps/${other}/terminal`, token).send({}).expect(201)).body.ticket as string;
    const second = (
      await supertest(`http://127.0.0.1:${api.port}`)
        .post(`/users/${carol.user.name}/tokens`)
        .set('authorization', `Bearer ${carol.token}`)
        .send({ name: 'laptop', scopes: ['read', 'deploy'] })
        .expect(201)
    ).body;
    const byToken = openTerminal(sshService.terminalPort!, await ask(second.secret));
    const byFirst = openTerminal(sshService.terminalPort!, await ask(carol.token));
    opened.push({ close: () => byToken.ws.terminate() }, { close: () => byFirst.ws.terminate() });
    await until(() => byToken.messages.some((m) => m.type === 'ready'), 20_000, 'the terminal ready');
    await until(() => byFirst.messages.some((m) => m.type === 'ready'), 20_000, 'the other terminal ready');
    await new Promise((r) => setTimeout(r, 800));

    await supertest(`http://127.0.0.1:${api.port}`)
      .delete(`/users/${carol.user.name}/tokens/${second.token.id}`)
      .set('authorization', `Bearer ${carol.token}`)
      .expect(204);
    await within(byToken.closed, 2500, 'the terminal of the revoked token');
    const revoked = '[gasper] the token this session was opened with was revoked; session closed';
    expect(byToken.output).to.include(revoked);
    expect(byToken.close).to.deep.equal({ code: 4403, reason: revoked });
    expect(byFirst.close).to.equal(undefined);

    await supertest(`http://127.0.0.1:${api.port}`)
      .delete(`/apps/${other}`)
      .set('authorization', `Bearer ${carol.token}`)
      .expect(202);
    await within(byFirst.closed, 2500, 'the terminal of the deleted app');
    const deleted = '[gasper] this app was deleted; session closed';
    expect(byFirst.output).to.include(deleted);
    expect(byFirst.close).to.deep.equal({ code: 4404, reason: deleted });
  });
});
