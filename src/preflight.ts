import { Redis } from 'ioredis';
import { keys } from './core/keys.ts';
import type { SecretBox } from './core/secret-box.ts';
import { dockerFromHost } from './docker/connection.ts';

/**
 * Checks a service runs before it starts, so that a process started on its own (`gasper api`,
 * `gasper worker`, ...) stops at once with the variable to fix, instead of retrying forever
 * against a Redis it cannot reach or failing on its first job.
 */
export class PreflightError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = 'PreflightError';
  }
}

/** The URL without its password, fit for a message. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * One connection attempt, no retries: Redis answers PING within `timeoutMs` and keeps every key
 * (`maxmemory-policy noeviction`: an evicted job or app document would be lost silently).
 */
export async function checkRedis(url: string, timeoutMs = 5000): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  try {
    await redis.connect();
    await redis.ping();
    const policy = /^maxmemory_policy:(\S+)/m.exec(await redis.info('memory'))?.[1];
    if (policy && policy !== 'noeviction') {
      throw new PreflightError(
        'REDIS_URL',
        `the Redis at ${redactUrl(url)} has maxmemory-policy ${policy}; Gasper needs noeviction (jobs and documents must never be evicted)`,
      );
    }
  } catch (err) {
    if (err instanceof PreflightError) throw err;
    const reason = lastError?.message ?? (err as Error).message;
    throw new PreflightError('REDIS_URL', `cannot reach Redis at ${redactUrl(url)}: ${reason}`);
  } finally {
    redis.disconnect();
  }
}

/** The node's Docker daemon answers (worker and SSH service exec into its containers). */
export async function checkDocker(dockerHost: string | undefined, timeoutMs = 5000): Promise<void> {
  const ping = dockerFromHost(dockerHost).ping();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref(),
  );
  await Promise.race([ping, timeout]).catch((err: Error) => {
    throw new PreflightError(
      'DOCKER_HOST',
      `cannot reach the Docker daemon at ${dockerHost ?? 'the default socket (unix:///var/run/docker.sock)'}: ${err.message}`,
    );
  });
}

/**
 * API and workers seal and open the same secrets (app environments, database passwords), so
 * they must hold the same key. The first service to start seals a known value under
 * `keys.secretKeyCheck`; every later one must be able to open it. A worker on another machine
 * that generated its own `secret.key` is refused here, not when it first fails to decrypt.
 */
export async function ensureSharedSecretKey(redis: Redis, secrets: SecretBox): Promise<void> {
  const probe = 'gasper-secret-key-check';
  await redis.set(keys.secretKeyCheck, secrets.seal(probe), 'NX');
  const sealed = await redis.get(keys.secretKeyCheck);
  let opened: string | undefined;
  try {
    opened = sealed ? secrets.open(sealed) : undefined;
  } catch {
    opened = undefined;
  }
  if (opened !== probe) {
    throw new PreflightError(
      'GASPER_SECRET_KEY',
      'differs from the key the other services of this Redis use: set the same GASPER_SECRET_KEY (64 hex characters) for every API and worker',
    );
  }
}
