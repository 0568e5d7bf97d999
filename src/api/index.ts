import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { connectRedis } from '../core/redis.ts';
import { createEnqueuer } from '../jobs/enqueue.ts';
import { NodeQueues } from '../jobs/queues.ts';
import { AppStore } from '../store/apps.ts';
import { NodeStore } from '../store/nodes.ts';
import { RateLimiter } from '../store/rate-limits.ts';
import { TokenStore } from '../store/tokens.ts';
import { UserStore } from '../store/users.ts';
import { createApiApp } from './app.ts';
import type { ApiOptions } from './deps.ts';
import { startNodeMonitor } from './cluster/node-monitor.ts';
import { terminalUpgrades } from './terminal-upgrade.ts';

export interface ApiServiceOptions extends ApiOptions {
  host: string;
  /** 0 picks a free port; the handle reports the one bound. */
  port: number;
  redisUrl: string;
  jobAttempts: number;
}

export interface ApiHandle {
  port: number;
  close(): Promise<void>;
}

/** Starts the REST API. It records intent in Redis and enqueues jobs; it never calls Docker. */
export async function startApi(
  options: ApiServiceOptions,
  deps: { log: Logger; secrets: SecretBox; processMetrics?: Registry },
): Promise<ApiHandle> {
  const log = deps.log.child({ service: 'api' });
  const redis: Redis = connectRedis(options.redisUrl);
  const queues = new NodeQueues(redis);
  const shutdown = new AbortController();
  const apps = new AppStore(redis);
  const nodes = new NodeStore(redis);
  const enqueue = createEnqueuer(redis, queues, options.jobAttempts);
  const users = new UserStore(redis);
  const app = createApiApp({
    redis,
    apps,
    nodes,
    users,
    tokens: new TokenStore(redis),
    limits: { authFailures: new RateLimiter(redis, 'auth-failures'), changes: new RateLimiter(redis, 'changes') },
    queues,
    enqueue,
    secrets: deps.secrets,
    log,
    options,
    shutdown: shutdown.signal,
    processMetrics: deps.processMetrics,
  });
  const server = http.createServer(app);
  const terminal = terminalUpgrades(options.terminalUpstream, log);
  server.on('upgrade', terminal.onUpgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port }, 'api listening');
  // Heartbeats are checked where placement is decided: down nodes are announced and failed over.
  const monitor = startNodeMonitor(
    { timeoutMs: options.nodeTimeoutMs, intervalMs: options.nodeCheckMs },
    { apps, nodes, enqueue, redis, options, users },
    log,
  );
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= (async () => {
        shutdown.abort();
        terminal.close();
        await monitor.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await queues.close();
        redis.disconnect();
      })();
      return closing;
    },
  };
}
