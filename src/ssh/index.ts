import type Docker from 'dockerode';
import ssh2 from 'ssh2';
import type { Logger } from '../core/log.ts';
import { connectRedis } from '../core/redis.ts';
import { AppStore } from '../store/apps.ts';
import { NodeStore } from '../store/nodes.ts';
import { SshCredentialStore } from '../store/ssh-credentials.ts';
import { dockerFromHost } from '../docker/connection.ts';
import { AuthLimiter, type AuthLimiterOptions } from './auth-limiter.ts';
import { handleAuthentication } from './authenticate.ts';
import type { ContainerExec } from './container-exec.ts';
import { ensureHostKey } from './host-key.ts';
import { handleSession } from './session.ts';
import type { RunSessionDeps } from './run-session.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { ensureInstallation } from '../core/installation.ts';
import { RunSessionStore } from '../store/run-sessions.ts';
import { ReleaseStore } from '../store/release-records.ts';
import { ReleaseDirs } from '../workers/apps/releases.ts';
import type { NodeWorkerOptions } from '../workers/context.ts';
import { revocationNotice } from '../core/session-revocation.ts';
import { AccessWatch } from '../store/access-watch.ts';
import type { SshTarget } from './target.ts';
import { startTerminalServer, type TerminalServerHandle, type TerminalServerOptions } from './terminal-server.ts';

export interface SshOptions {
  host: string;
  /** 0 picks a free port; the handle reports the one bound. */
  port: number;
  /** The host key is kept under `<stateDir>/ssh/`. */
  stateDir: string;
  redisUrl: string;
  /** This node: its own instances are reached through `dockerHost`. */
  nodeId: string;
  /** This node's Docker daemon (DOCKER_HOST syntax); undefined: the local socket. */
  dockerHost: string | undefined;
  /** Slowing down of repeated failures per address (see AuthLimiter for defaults). */
  limiter?: AuthLimiterOptions;
  /** Authentication attempts one connection may make before it is closed. Default 6. */
  maxAuthTries?: number;
  /** The web terminal's WebSocket listener (ssh/terminal-server.ts); unset: none. */
  terminal?: TerminalServerOptions;
  /**
   * One-off containers (`ssh <app>.run@host`, run-session.ts): what this node's worker creates
   * them with. Unset: such sessions are refused with the reason (no secret key to open the env).
   */
  runs?: RunSessionOptions;
}

export interface RunSessionOptions {
  /** Opens the app's sealed env and linked databases' passwords. */
  secrets: SecretBox;
  /** This node's worker options (image names, limits, network pool, node address). */
  worker: NodeWorkerOptions;
  /** Lease of a session's container in Redis (store/run-sessions.ts). Default 60 s. */
  leaseMs?: number;
}

export interface SshHandle {
  port: number;
  /** Port of the web terminal's listener, when it was asked for. */
  terminalPort?: number;
  close(): Promise<void>;
}

/**
 * The SSH service: `ssh <app>[.<n>]@host` authenticates against the app's registered keys or
 * password, then opens a shell or runs a command in one of the app's containers, through the
 * Docker daemon of the node that runs it; `ssh <app>.run@host` opens a new one-off container of
 * the app's current release instead (run-session.ts). With `terminal`, it also serves the dashboard's web
 * terminal: the same shells, over a WebSocket, for a ticket the API issued.
 */
export async function startSsh(options: SshOptions, deps: { log: Logger; docker?: Docker }): Promise<SshHandle> {
  const log = deps.log.child({ service: 'ssh' });
  const maxAuthTries = options.maxAuthTries ?? 6;
  if (!Number.isInteger(maxAuthTries) || maxAuthTries < 1)
    throw new RangeError('ssh: maxAuthTries must be a positive integer');
  const limiter = new AuthLimiter(options.limiter);
  const hostKey = await ensureHostKey(options.stateDir);
  const redis = connectRedis(options.redisUrl);
  const apps = new AppStore(redis);
  const nodes = new NodeStore(redis);
  const credentials = new SshCredentialStore(redis);
  const dockers = new Map<string, Docker>();
  const dockerFor = (endpoint: string | undefined) => {
    if (endpoint === options.dockerHost && deps.docker) return deps.docker;
    const key = endpoint ?? '';
    let docker = dockers.get(key);
    if (!docker) dockers.set(key, (docker = dockerFromHost(endpoint)));
    return docker;
  };
  const running = new Set<ContainerExec>();
  const installation = options.runs
    ? await ensureInstallation(redis).catch((err: unknown) => {
        redis.disconnect();
        throw err;
      })
    : undefined;
  const runs: RunSessionDeps | undefined = options.runs && {
    ctx: {
      docker: dockerFor(options.dockerHost),
      redis,
      apps,
      releases: new ReleaseDirs(options.stateDir),
      records: new ReleaseStore(redis),
      secrets: options.runs.secrets,
      log,
      options: options.runs.worker,
      scope: { installation: installation!, node: options.nodeId },
    },
    nodes,
    leases: new RunSessionStore(redis),
    sshPort: 0,
    ...(options.runs.leaseMs ? { leaseMs: options.runs.leaseMs } : {}),
  };
  // Ends the connections and web terminals of whoever lost the app (transfer, deletion) within a second.
  const access = new AccessWatch(redis, { log });
  const clients = new Set<ssh2.Connection>();

  const server = new ssh2.Server({ hostKeys: [hostKey], ident: 'gasper' }, (client, info) => {
    clients.add(client);
    const remote = info.ip;
    let target: SshTarget | undefined;
    let owner = '';
    let attempts = 0;
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'none' && ++attempts > maxAuthTries) {
        log.warn({ remote, user: ctx.username }, 'too many ssh authentication attempts: disconnecting');
        client.end();
        return;
      }
      handleAuthentication(ctx, remote, { apps, credentials, limiter, log }, (t, o) => {
        target = t;
        owner = o;
      });
    });
    client.on('ready', () => {
      const channels = new Set<ssh2.ServerChannel>();
      // The credentials were the owner's; a transfer revokes them, and this connection with them.
      const unwatch = access.watch(target!.app, { kind: 'credentials', owner }, (reason) => {
        const notice = revocationNotice(reason);
        log.info({ remote, app: target!.app, reason }, 'ssh connection ended: access revoked');
        for (const channel of channels) {
          channel.stderr.write(`\r\n${notice}\r\n`);
          channel.exit(1);
          channel.end();
        }
        client.end();
      });
      client.once('close', unwatch);
      // Every line a session logs says from where it came.
      const sessionLog = log.child({ remote });
      client.on('session', (accept) => {
        handleSession(accept(), target!, {
          owner,
          channels,
          apps,
          nodes,
          self: { nodeId: options.nodeId, dockerHost: options.dockerHost },
          dockerFor,
          log: sessionLog,
          running,
          ...(runs ? { runs } : {}),
        });
      });
    });
    client.on('error', (err: Error) => log.debug({ err: err.message, remote }, 'ssh connection error'));
    client.on('close', () => clients.delete(client));
  });
  server.on('error', (err: Error) => log.error({ err }, 'ssh server error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  if (runs) runs.sshPort = port;
  log.info({ port, runs: runs !== undefined }, 'ssh listening');
  let terminal: TerminalServerHandle | undefined;
  if (options.terminal) {
    try {
      terminal = await startTerminalServer(options.terminal, {
        redis,
        apps,
        nodes,
        self: { nodeId: options.nodeId, dockerHost: options.dockerHost },
        dockerFor,
        log,
        running,
        access,
      });
    } catch (err) {
      server.close();
      redis.disconnect();
      throw err;
    }
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    ...(terminal ? { terminalPort: terminal.port } : {}),
    close() {
      closing ??= (async () => {
        await terminal?.close().catch((err: Error) => log.warn({ err }, 'could not close the web terminal'));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const client of clients) client.end();
        await Promise.all(
          [...running].map((exec) =>
            exec.kill().catch((err: Error) => log.warn({ err }, 'could not end an ssh session')),
          ),
        );
        await closed;
        access.close();
        redis.disconnect();
      })();
      return closing;
    },
  };
}
