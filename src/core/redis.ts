import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

/** Connection options every Gasper client uses; BullMQ workers need `maxRetriesPerRequest: null`. */
export const redisOptions: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true };

export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { ...redisOptions, ...options });
}

export interface EmbeddedRedisHandle {
  url: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a private `redis-server` with its data under `dir`: AOF on (nothing lost on restart)
 * and `noeviction` (BullMQ must never have its keys evicted). Listens on loopback only, on a
 * port chosen once and recorded in `dir/port`, so a restart keeps the same URL.
 */
export async function startEmbeddedRedis(dir: string, options: { port?: number } = {}): Promise<EmbeddedRedisHandle> {
  await fs.mkdir(dir, { recursive: true });
  const portFile = path.join(dir, 'port');
  const port = options.port ?? (Number(await fs.readFile(portFile, 'utf8').catch(() => '')) || (await freePort()));
  await fs.writeFile(portFile, String(port));
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--loglevel',
      'warning',
      '--logfile',
      path.join(dir, 'redis.log'),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`cannot start redis-server (is it installed?): ${err.message}`))),
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {}); // refusals are expected until the server listens
  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      try {
        await Promise.race([probe.connect().then(() => probe.ping()), spawnError]);
        break;
      } catch (err) {
        if (child.exitCode !== null || Date.now() > deadline) {
          const log = await fs.readFile(path.join(dir, 'redis.log'), 'utf8').catch(() => '');
          throw new Error(`redis-server did not start on port ${port}: ${(err as Error).message}\n${log.slice(-500)}`);
        }
        probe.disconnect();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    probe.disconnect();
  }
  let closed: Promise<void> | undefined;
  return {
    url,
    close() {
      closed ??= (async () => {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
      })();
      return closed;
    },
  };
}
