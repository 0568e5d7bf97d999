import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { startApi, type ApiHandle } from '../../src/api/index.ts';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { createSecretBox } from '../../src/core/secret-box.ts';
import { startTerminalServer, type TerminalServerHandle } from '../../src/ssh/terminal-server.ts';
import { AppStore } from '../../src/store/apps.ts';
import { NodeStore } from '../../src/store/nodes.ts';
import { TerminalTicketStore } from '../../src/store/terminal-tickets.ts';
import { UserStore } from '../../src/store/users.ts';
import { defaultOptions } from '../api/api-fixture.ts';
import { startTestRedis } from '../support/redis.ts';

type Outcome = { status: number } | { code: number; reason: string; messages: unknown[] };

/** Opens a WebSocket and reports how it ended: the HTTP status of a refused upgrade, or the close. */
function attempt(url: string, protocols: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const messages: unknown[] = [];
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) messages.push(JSON.parse(data.toString()));
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), messages }));
    ws.on('error', (err) => (err.message.includes('Unexpected server response') ? undefined : reject(err)));
  });
}

/**
 * The web terminal's refusals end to end without Docker: a browser's socket through the API's
 * `/terminal` to the SSH service's listener, with real tickets in a real Redis. Every refusal
 * closes with its code and reason before any container is touched (the Docker client would throw).
 */
describe('web terminal listener behind the API: refusals (real Redis, no Docker)', function () {
  this.timeout(30_000);
  let redisHandle: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let terminal: TerminalServerHandle;
  let api: ApiHandle;
  let tickets: TerminalTicketStore;
  let apps: AppStore;
  let url: string;
  const log = createLogger('silent');
  const app = `term-${crypto.randomBytes(3).toString('hex')}`;
  const protocols = (ticket?: string) => ['gasper.terminal.v1', ...(ticket ? [`ticket.${ticket}`] : [])];

  before(async () => {
    redisHandle = await startTestRedis();
    redis = connectRedis(redisHandle.url);
    apps = new AppStore(redis);
    tickets = new TerminalTicketStore(redis);
    await new UserStore(redis).put({ name: 'alice', role: 'member', quotas: {}, createdAt: new Date().toISOString() });
    await apps.create(
      {
        name: app,
        uid: 'u1',
        owner: 'alice',
        repo: { url: 'file:///nowhere' },
        port: 3000,
        sealedEnv: {},
        node: 'n1',
        status: 'stopped',
        instances: [],
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
      },
      1,
    );
    terminal = await startTerminalServer(
      { host: '127.0.0.1', port: 0 },
      {
        redis,
        apps,
        nodes: new NodeStore(redis),
        self: { nodeId: 'n1', dockerHost: undefined },
        dockerFor: () => {
          throw new Error('no refusal may reach Docker');
        },
        log,
        running: new Set(),
      },
    );
    api = await startApi(
      {
        ...defaultOptions,
        host: '127.0.0.1',
        port: 0,
        redisUrl: redisHandle.url,
        jobAttempts: 1,
        terminalUpstream: `127.0.0.1:${terminal.port}`,
      },
      { log, secrets: createSecretBox(crypto.randomBytes(32).toString('hex')) },
    );
    url = `ws://127.0.0.1:${api.port}/terminal`;
  });
  after(async () => {
    await api?.close();
    await terminal?.close();
    redis?.disconnect();
    await redisHandle?.close();
  });

  it('refuses a socket without the protocol, or without a ticket (4401)', async () => {
    expect(await attempt(url, [])).to.deep.include({ code: 4401 });
    const noTicket = await attempt(url, protocols());
    expect(noTicket).to.deep.include({ code: 4401 });
    expect((noTicket as { reason: string }).reason).to.include('ticket.<ticket>');
  });

  it('refuses an unknown ticket, and a ticket the second time (4401)', async () => {
    const unknown = await attempt(url, protocols(`gtt_${'A'.repeat(43)}`));
    expect(unknown).to.deep.include({ code: 4401 });
    expect((unknown as { messages: unknown[] }).messages).to.deep.equal([
      { type: 'error', message: 'the ticket is unknown, used or expired: ask for another' },
    ]);
    const { ticket } = await tickets.issue({ user: 'alice', app });
    expect(await attempt(url, protocols(ticket))).to.deep.include({ code: 4404 });
    expect(await attempt(url, protocols(ticket))).to.deep.include({ code: 4401 });
  });

  it('checks access again when redeeming: a user deleted meanwhile is refused (4403)', async () => {
    const { ticket } = await tickets.issue({ user: 'ghost', app });
    const outcome = await attempt(url, protocols(ticket));
    expect(outcome).to.deep.include({ code: 4403, reason: 'user "ghost" no longer exists' });
  });

  it('says why an app without a running instance gets no shell (4404)', async () => {
    const { ticket } = await tickets.issue({ user: 'alice', app });
    expect(await attempt(url, protocols(ticket))).to.deep.include({
      code: 4404,
      reason: `app "${app}" has no running instance`,
    });
  });

  it('forwards /terminal only: any other upgrade on the API is a 404', async () => {
    expect(await attempt(`ws://127.0.0.1:${api.port}/apps`, protocols())).to.deep.equal({ status: 404 });
    expect(await attempt(`ws://127.0.0.1:${api.port}/terminal/x`, protocols())).to.deep.equal({ status: 404 });
  });

  it('answers 502 when the SSH service cannot be reached', async () => {
    const closed = await startApi(
      {
        ...defaultOptions,
        host: '127.0.0.1',
        port: 0,
        redisUrl: redisHandle.url,
        jobAttempts: 1,
        // Port 1 on loopback: nothing listens there.
        terminalUpstream: '127.0.0.1:1',
      },
      { log, secrets: createSecretBox(crypto.randomBytes(32).toString('hex')) },
    );
    try {
      expect(await attempt(`ws://127.0.0.1:${closed.port}/terminal`, protocols())).to.deep.equal({ status: 502 });
    } finally {
      await closed.close();
    }
  });
});
