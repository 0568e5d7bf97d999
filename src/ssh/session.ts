import type Docker from 'dockerode';
import type { PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import type { Logger } from '../core/log.ts';
import type { AppStore } from '../store/apps.ts';
import type { NodeStore } from '../store/nodes.ts';
import { startContainerExec, type ContainerExec } from './container-exec.ts';
import { startRunSession, type RunSessionDeps } from './run-session.ts';
import { chooseInstance, dockerEndpointFor, type SshTarget } from './target.ts';

export interface SessionDeps {
  apps: AppStore;
  nodes: NodeStore;
  /** This node, and how it reaches its own Docker daemon. */
  self: { nodeId: string; dockerHost: string | undefined };
  /** A Docker client for an endpoint (undefined: the local socket), cached by the caller. */
  dockerFor(endpoint: string | undefined): Docker;
  log: Logger;
  /** Every running exec, so closing the service can end them. */
  running: Set<ContainerExec>;
  /** One-off containers (`<app>.run`); unset: this service cannot open them (no secret key). */
  runs?: RunSessionDeps;
  /** The app's owner when the connection's credentials were checked: a session of another owner's app is refused. */
  owner: string;
  /** The connection's open channels, so a revocation (index.ts) can say why it ends them. */
  channels: Set<ServerChannel>;
}

type Opened = { ok: true; exec: ContainerExec; container: string } | { ok: false; problem: string };

/**
 * One SSH session channel: records the PTY request and window changes, then runs the shell or
 * the command in a container of the target app. The client going away ends the process.
 */
export function handleSession(session: Session, target: SshTarget, deps: SessionDeps): void {
  let pty: PseudoTtyInfo | undefined;
  let exec: ContainerExec | undefined;
  let started = false;

  session.on('pty', (accept, _reject, info) => {
    pty = info;
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    if (pty) pty = { ...pty, cols: info.cols, rows: info.rows };
    if (exec) void exec.resize(info.cols, info.rows);
    accept?.();
  });
  // Client environment (LANG, LC_*) is not passed in: the container's own env is the app's.
  session.on('env', (_accept, reject) => reject?.());
  session.on('subsystem', (_accept, reject) => reject());

  const start = (channel: ServerChannel, command: string | undefined) => {
    if (started) return;
    started = true;
    deps.channels.add(channel);
    channel.once('close', () => deps.channels.delete(channel));
    run(channel, command).catch((err: Error) => {
      deps.log.error({ err, app: target.app, run: target.run === true }, 'ssh session failed');
      fail(channel, 'could not start the session');
    });
  };
  session.on('shell', (accept) => start(accept(), undefined));
  session.on('exec', (accept, _reject, info) => start(accept(), info.command));

  /** A process in one of the app's instances, or (`<app>.run`) a new one-off container. */
  async function open(command: string | undefined): Promise<Opened> {
    // Credentials checked before a transfer are the old owner's: the access watch ends the
    // connection (index.ts), and a channel opened before it did is refused here.
    const owner = (await deps.apps.get(target.app))?.owner;
    if (owner !== undefined && owner !== deps.owner)
      return { ok: false, problem: 'this app was transferred to another user' };
    const size = pty ? { term: pty.term, cols: pty.cols, rows: pty.rows } : undefined;
    if (target.run) {
      if (!deps.runs)
        return {
          ok: false,
          problem:
            'this SSH service cannot open one-off containers: it runs without the secret key (GASPER_SECRET_KEY) the app env is sealed with',
        };
      return startRunSession(deps.runs, { app: target.app, command, ...(size ? { pty: size } : {}) });
    }
    const doc = await deps.apps.get(target.app);
    if (!doc || doc.status === 'deleting') return { ok: false, problem: `app "${target.app}" not found` };
    const choice = chooseInstance(doc.instances, target);
    if (!choice.ok) return choice;
    const endpoint = dockerEndpointFor(choice.instance, deps.self, await deps.nodes.list());
    if (!endpoint.ok) return endpoint;
    const started = await startContainerExec({
      docker: deps.dockerFor(endpoint.endpoint),
      container: choice.instance.container,
      command,
      pty: size,
    });
    return { ok: true, exec: started, container: choice.instance.container };
  }

  async function run(channel: ServerChannel, command: string | undefined): Promise<void> {
    let closed = false;
    channel.once('close', () => {
      closed = true;
    });
    const opened = await open(command);
    if (!opened.ok) return fail(channel, opened.problem);
    exec = opened.exec;
    const container = opened.container;
    const current = exec;
    const startedAt = Date.now();
    deps.running.add(current);
    let exited = false;
    const hangUp = () => {
      if (exited) return;
      deps.log.info({ app: target.app, container }, 'ssh client went away: ending its processes');
      current
        .kill()
        .catch((err: Error) => deps.log.warn({ err, app: target.app }, "could not end the session's processes"));
    };
    channel.once('close', hangUp);
    if (closed) hangUp();
    channel.pipe(current.stdin);
    const oneOff = target.run === true;
    deps.log.info(
      { app: target.app, container, run: oneOff, pty: pty !== undefined, command: command !== undefined },
      'ssh session started',
    );
    let code: number;
    try {
      code = await current.run(channel, channel.stderr);
    } finally {
      exited = true;
      deps.running.delete(current);
    }
    deps.log.info(
      {
        app: target.app,
        container,
        run: oneOff,
        exitCode: code,
        durationMs: Date.now() - startedAt,
        clientGone: closed,
      },
      'ssh session ended',
    );
    if (!closed) {
      channel.exit(code);
      channel.end();
    }
  }
}

function fail(channel: ServerChannel, message: string): void {
  if (!channel.writable) return;
  channel.stderr.write(`gasper: ${message}\r\n`);
  channel.exit(1);
  channel.end();
}
