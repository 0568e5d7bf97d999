import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

const run = promisify(execFile);

/** A Docker daemon of its own, beside the machine's: another "node" for tests. */
export interface SecondDocker {
  /** DOCKER_HOST syntax: `unix:///tmp/gd-xxxxxx/docker.sock`. */
  host: string;
  docker: Docker;
  bridge: string;
  /** Stops the daemon (SIGTERM, then SIGKILL), as a dying node would; `close` also cleans up. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a second dockerd with its own --data-root, --exec-root, socket, --pidfile and bridge
 * (`ip link add gsp-<hex> type bridge`, 10.222.<n>.1/24: an address on this machine only, never
 * sent traffic), without iptables rules (published ports go through docker-proxy on 127.0.0.1),
 * and loads `images` into it from the machine's daemon (`docker save | docker load`). Needs root,
 * dockerd and ip; fails (never skips) without them. Paths are short: containerd's sockets live
 * under the exec root and a unix socket path has at most 107 bytes.
 */
export async function startSecondDocker(images: readonly string[]): Promise<SecondDocker> {
  const id = crypto.randomBytes(3).toString('hex');
  const dir = await fs.mkdtemp(`/tmp/gd-${id}-`);
  const bridge = `gsp-${id}`;
  const subnet = `10.222.${crypto.randomInt(0, 256)}`;
  const socket = path.join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  let daemon: ChildProcess | undefined;
  let output = '';
  let exited: Promise<void> = Promise.resolve();

  const stop = async () => {
    if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
    daemon.kill('SIGTERM');
    const timer = setTimeout(() => daemon?.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  const close = async () => {
    // Containers first, so the daemon stops quickly and nothing keeps the bridge busy.
    const docker = new Docker({ socketPath: socket });
    const left = await docker.listContainers({ all: true }).catch(() => []);
    await Promise.all(
      left.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
    await stop();
    await run('ip', ['link', 'delete', bridge]).catch(() => {});
    // Overlay mounts of a killed daemon may linger under the data root.
    await run('sh', ['-c', `grep -o '${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`]).catch(() => {});
    await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
  };

  try {
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    daemon = spawn(
      'dockerd',
      [
        '--data-root',
        path.join(dir, 'data'),
        '--exec-root',
        path.join(dir, 'exec'),
        '-H',
        host,
        '--pidfile',
        path.join(dir, 'docker.pid'),
        '-b',
        bridge,
        '--iptables=false',
        '--ip-masq=false',
        '--ip=127.0.0.1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-10_000);
    };
    daemon.stdout!.on('data', keep);
    daemon.stderr!.on('data', keep);
    exited = new Promise((resolve) => daemon!.once('exit', () => resolve()));
    const docker = new Docker({ socketPath: socket });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (daemon.exitCode !== null) throw new Error(`second dockerd exited (${daemon.exitCode}):\n${output}`);
      if (
        await docker.ping().then(
          () => true,
          () => false,
        )
      )
        break;
      if (Date.now() > deadline) throw new Error(`second dockerd did not answer within 60 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const image of images) {
      await run('sh', ['-c', `docker save ${image} | DOCKER_HOST=${host} docker load -q`], { maxBuffer: 1 << 20 });
    }
    return { host, docker, bridge, stop, close };
  } catch (err) {
    await close();
    throw err;
  }
}
