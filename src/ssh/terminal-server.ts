import crypto from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Logger } from '../core/log.ts';
import type { AppStore } from '../store/apps.ts';
import type { NodeStore } from '../store/nodes.ts';
import { TerminalSessionStore, type TerminalSession } from '../store/terminal-sessions.ts';
import { TerminalTicketStore } from '../store/terminal-tickets.ts';
import { UserStore } from '../store/users.ts';
import { startContainerExec, type ContainerExec } from './container-exec.ts';
import { planTerminalSession } from './terminal-access.ts';
import { revocationNotice } from '../core/session-revocation.ts';
import { AccessWatch } from '../store/access-watch.ts';
import {
  parseClientMessage,
  terminalCloseCodes,
  terminalProtocol,
  terminalSocketPath,
  ticketFromProtocols,
  type TerminalServerMessage,
} from './terminal-protocol.ts';

export interface TerminalServerOptions {
  host: string;
  /** 0 picks a free port; the handle reports the one bound. */
  port: number;
  /** How often an idle socket is pinged; one that missed the previous ping is dropped. Default 30 s. */
  pingMs?: number;
}

export interface TerminalServerDeps {
  redis: Redis;
  apps: AppStore;
  nodes: NodeStore;
  self: { nodeId: string; dockerHost: string | undefined };
  dockerFor(endpoint: string | undefined): Docker;
  log: Logger;
  /** Every running exec, shared with the SSH sessions, so closing the service ends them. */
  running: Set<ContainerExec>;
  /** The SSH service's watch of who lost an app (store/access-watch.ts); unset: one of its own. */
  access?: AccessWatch;
}

export interface TerminalServerHandle {
  port: number;
  close(): Promise<void>;
}

/** Input a client may send before its shell has started (typed while the ticket is redeemed). */
const maxPendingInput = 64 * 1024;

/** A close reason is at most 123 bytes of UTF-8. */
const reasonOf = (text: string) =>
  Buffer.from(text)
    .subarray(0, 123)
    .toString('utf8')
    .replace(/\uFFFD$/, '');

/**
 * The web terminal: a WebSocket listener of the SSH service. A socket brings a ticket the API
 * issued (store/terminal-tickets.ts); once redeemed and the user's access checked again, it gets
 * a shell on a PTY in the app's instance, through that instance's node's Docker daemon, like an
 * SSH session. The shell's processes end when the socket closes (the tab closed, the network
 * gone: pings find out). Each session is logged and kept in the app's audit.
 */
export async function startTerminalServer(
  options: TerminalServerOptions,
  deps: TerminalServerDeps,
): Promise<TerminalServerHandle> {
  const log = deps.log.child({ component: 'terminal' });
  const tickets = new TerminalTicketStore(deps.redis);
  const users = new UserStore(deps.redis);
  const audit = new TerminalSessionStore(deps.redis);
  const ownAccess = deps.access ? undefined : new AccessWatch(deps.redis, { log });
  const access = deps.access ?? ownAccess!;
  const wss = new WebSocketServer({
    host: options.host,
    port: options.port,
    path: terminalSocketPath,
    maxPayload: 1024 * 1024,
    perMessageDeflate: false,
    // The one protocol spoken; the ticket rides beside it and is never echoed back.
    handleProtocols: (protocols) => (protocols.has(terminalProtocol) ? terminalProtocol : false),
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => {
      wss.off('error', reject);
      resolve();
    });
  });
  wss.on('error', (err) => log.error({ err }, 'terminal listener error'));
  const port = (wss.address() as AddressInfo).port;
  log.info({ port }, 'web terminal listening');

  const alive = new WeakSet<WebSocket>();
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, options.pingMs ?? 30_000);
  pinger.unref();

  wss.on('connection', (ws, req) => {
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('error', (err) => log.debug({ err: err.message }, 'terminal socket error'));
    serve(ws, req).catch((err: Error) => {
      log.error({ err }, 'web terminal session failed');
      refuse(ws, terminalCloseCodes.failed, 'could not start the shell');
    });
  });

  async function serve(ws: WebSocket, req: http.IncomingMessage): Promise<void> {
    let size = { cols: 80, rows: 24 };
    let exec: ContainerExec | undefined;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let closed = false;
    const hungUp = new Promise<void>((resolve) =>
      ws.once('close', () => {
        closed = true;
        resolve();
      }),
    );
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        if (exec) exec.stdin.write(bytes);
        else if (pendingBytes + bytes.length <= maxPendingInput) {
          pending.push(bytes);
          pendingBytes += bytes.length;
        }
        return;
      }
      const message = parseClientMessage(bytes.toString('utf8'));
      if (message?.type === 'resize') {
        size = { cols: message.cols, rows: message.rows };
        if (exec) void exec.resize(size.cols, size.rows);
      }
    });

    const ticket = ticketFromProtocols(req.headers['sec-websocket-protocol']);
    if (ws.protocol !== terminalProtocol || !ticket) {
      log.warn({ peer: req.socket.remoteAddress }, 'web terminal refused: no ticket');
      return refuse(ws, terminalCloseCodes.refused, `ask for the subprotocols ${terminalProtocol} and ticket.<ticket>`);
    }
    const grant = await tickets.redeem(ticket);
    if (!grant) {
      log.warn({ peer: req.socket.remoteAddress }, 'web terminal refused: unknown, used or expired ticket');
      return refuse(ws, terminalCloseCodes.refused, 'the ticket is unknown, used or expired: ask for another');
    }
    const [user, app, nodes] = await Promise.all([users.get(grant.user), deps.apps.get(grant.app), deps.nodes.list()]);
    const plan = planTerminalSession({ grant, user, app, self: deps.self, nodes });
    if (!plan.ok) {
      log.warn(
        { remote: grant.remote, user: grant.user, app: grant.app, problem: plan.problem },
        'web terminal refused',
      );
      return refuse(ws, plan.code, plan.problem);
    }
    if (closed || !user) return;
    const current = await startContainerExec({
      docker: deps.dockerFor(plan.endpoint),
      container: plan.instance.container,
      pty: { term: 'xterm-256color', ...size },
    });
    exec = current;
    // Typed while the shell started: written now, before anything typed from here on.
    for (const chunk of pending) current.stdin.write(chunk);
    pending = [];
    deps.running.add(current);
    const session: TerminalSession = {
      id: `ts_${crypto.randomBytes(8).toString('hex')}`,
      user: grant.user,
      app: grant.app,
      instance: plan.index,
      container: plan.instance.container,
      node: plan.instance.node,
      ...(grant.remote ? { remote: grant.remote } : {}),
      startedAt: new Date().toISOString(),
    };
    const fields = { session: session.id, user: session.user, app: session.app, instance: session.instance };
    log.info(
      { ...fields, container: session.container, node: session.node, remote: grant.remote },
      'web terminal session started',
    );
    await audit.started(session).catch((err: Error) => log.warn({ err, ...fields }, 'could not record the session'));

    // A user who loses the app (given away, deleted; the user or the ticket's token gone) loses the shell at once.
    const holder = {
      kind: 'user' as const,
      user: user.name,
      role: user.role,
      ...(grant.tokenId !== undefined ? { tokenId: grant.tokenId } : {}),
    };
    const unwatch = access.watch(grant.app, holder, (reason) => {
      const notice = revocationNotice(reason);
      log.info({ ...fields, reason }, 'web terminal ended: access revoked');
      if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.from(`\r\n${notice}\r\n`), { binary: true });
      refuse(ws, reason === 'app deleted' ? terminalCloseCodes.unavailable : terminalCloseCodes.forbidden, notice);
    });
    void hungUp.then(unwatch);

    // The socket gone ends the shell and everything it started, as sshd's hang-up does.
    let exited = false;
    void hungUp.then(() => {
      if (exited) return;
      log.info(fields, 'web terminal closed by the browser: ending its processes');
      current.kill().catch((err: Error) => log.warn({ err, ...fields }, "could not end the session's processes"));
    });
    send(ws, {
      type: 'ready',
      app: grant.app,
      instance: plan.index,
      node: plan.instance.node,
      container: plan.instance.container,
    });
    // The size may have changed while the exec was created.
    await current.resize(size.cols, size.rows);

    const output = socketWriter(ws);
    const code = await current.run(output, output);
    exited = true;
    unwatch();
    deps.running.delete(current);
    const endedAt = new Date().toISOString();
    log.info(
      { ...fields, exitCode: code, hungUp: closed, startedAt: session.startedAt, endedAt },
      'web terminal session ended',
    );
    await audit
      .ended(session, closed ? { endedAt } : { endedAt, exitCode: code })
      .catch((err: Error) => log.warn({ err, ...fields }, 'could not record the end of the session'));
    if (!closed) {
      send(ws, { type: 'exit', code });
      ws.close(1000, 'the shell exited');
    }
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= (async () => {
        clearInterval(pinger);
        ownAccess?.close();
        for (const ws of wss.clients) ws.close(terminalCloseCodes.stopping, 'the SSH service is stopping');
        const closed = new Promise<void>((resolve) => wss.close(() => resolve()));
        // Clients that do not answer the close handshake promptly are cut.
        const cut = setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 1000);
        await closed;
        clearTimeout(cut);
      })();
      return closing;
    },
  };
}

function send(ws: WebSocket, message: TerminalServerMessage): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

function refuse(ws: WebSocket, code: number, problem: string): void {
  send(ws, { type: 'error', message: problem });
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reasonOf(problem));
}

/**
 * The shell's output as binary frames. Its callback runs once the frame left for the socket, so
 * `ContainerExec.run` resolves only after the output went out; it closes with the socket, so a
 * client gone takes nothing more.
 */
function socketWriter(ws: WebSocket): Writable {
  const writer = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (ws.readyState !== WebSocket.OPEN) return callback();
      ws.send(chunk, { binary: true }, () => callback());
    },
  });
  ws.once('close', () => writer.destroy());
  return writer;
}
