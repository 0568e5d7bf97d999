import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { keys } from '../../src/core/keys.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { createSecretBox } from '../../src/core/secret-box.ts';
import { ensureSharedSecretKey } from '../../src/preflight.ts';
import { requireDocker } from '../support/docker.ts';
import { newSecretKey } from '../support/node-processes.ts';
import { startTestRedis } from '../support/redis.ts';
import { freePort, spawnService } from '../support/service-processes.ts';

/**
 * `gasper api|worker|proxy|dns|ssh` started on their own stop at once, with exit code 2 (bad
 * configuration) or 1 (a dependency missing), and a message that names the variable to fix.
 */
describe('gasper <service> fails fast, naming the variable (processes, Redis, Docker)', function () {
  this.timeout(120_000);
  const services = ['api', 'worker', 'proxy', 'dns', 'ssh'];
  let redis: EmbeddedRedisHandle;
  let stateDir: string;

  before(async () => {
    await requireDocker();
    redis = await startTestRedis();
  });
  after(async () => {
    await redis?.close();
  });
  beforeEach(async () => {
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-services-'));
  });
  afterEach(async () => {
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  /** Runs `gasper <command>` to its exit (it must exit within 15 s); resolves to code and output. */
  async function run(
    command: string,
    env: Record<string, string>,
  ): Promise<{ code: number | null; output: string; ms: number }> {
    const started = Date.now();
    const proc = spawnService(command, { GASPER_STATE_DIR: stateDir, GASPER_LOG_LEVEL: 'warn', ...env });
    const code = await Promise.race([
      proc.exited,
      new Promise<'running'>((r) => setTimeout(() => r('running'), 15_000)),
    ]);
    if (code === 'running') {
      await proc.stop('SIGKILL');
      throw new Error(`gasper ${command} still running after 15 s:\n${proc.output()}`);
    }
    return { code, output: proc.output(), ms: Date.now() - started };
  }

  for (const service of services) {
    it(`gasper ${service}: REDIS_URL unset → exit 2 naming REDIS_URL`, async () => {
      const result = await run(service, {});
      expect(result.code, result.output).to.equal(2);
      expect(result.output).to.match(/^gasper: REDIS_URL is required/);
    });

    it(`gasper ${service}: Redis unreachable → exit 1 at once naming REDIS_URL, password withheld`, async () => {
      const port = await freePort();
      const result = await run(service, {
        REDIS_URL: `redis://:hunter2-secret@127.0.0.1:${port}`,
        GASPER_SECRET_KEY: newSecretKey(),
      });
      expect(result.code, result.output).to.equal(1);
      expect(result.output).to.include(
        `gasper: cannot start ${service}: REDIS_URL: cannot reach Redis at redis://:***@127.0.0.1:${port}: `,
      );
      expect(result.output).to.include('ECONNREFUSED');
      expect(result.output).to.not.include('hunter2-secret');
      expect(result.ms).to.be.below(10_000);
    });
  }

  it('refuses a Redis that may evict keys, naming REDIS_URL', async () => {
    const client = connectRedis(redis.url);
    try {
      await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const result = await run('proxy', { REDIS_URL: redis.url });
      expect(result.code, result.output).to.equal(1);
      expect(result.output).to.match(
        /REDIS_URL: the Redis at redis:\/\/127\.0\.0\.1:\d+ has maxmemory-policy allkeys-lru; Gasper needs noeviction/,
      );
    } finally {
      await client.config('SET', 'maxmemory-policy', 'noeviction');
      client.disconnect();
    }
  });

  for (const service of ['worker', 'ssh']) {
    it(`gasper ${service}: Docker unreachable → exit 1 naming DOCKER_HOST`, async () => {
      const result = await run(service, {
        REDIS_URL: redis.url,
        GASPER_SECRET_KEY: newSecretKey(),
        DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      });
      expect(result.code, result.output).to.equal(1);
      expect(result.output).to.include(
        `gasper: cannot start ${service}: DOCKER_HOST: cannot reach the Docker daemon at unix:///nonexistent/docker.sock`,
      );
    });
  }

  it('refuses an API or worker whose GASPER_SECRET_KEY differs from the one the cluster uses', async () => {
    // The first API or worker to start fixes the cluster's key (proxy, DNS and SSH hold none).
    const first = newSecretKey();
    const client = connectRedis(redis.url);
    try {
      await client.del(keys.secretKeyCheck);
      await ensureSharedSecretKey(client, createSecretBox(first));
      await ensureSharedSecretKey(client, createSecretBox(first)); // the same key passes, again and again
      for (const service of ['api', 'worker']) {
        const result = await run(service, {
          REDIS_URL: redis.url,
          GASPER_SECRET_KEY: newSecretKey(),
          GASPER_NODE_ID: `t-key-${process.pid}`,
        });
        expect(result.code, result.output).to.equal(1);
        expect(result.output).to.include(`gasper: cannot start ${service}: GASPER_SECRET_KEY: differs from the key`);
        expect(result.output).to.not.include(first);
      }
      // A service given no key generates one in its state dir: that too is refused, not used.
      const generated = await run('worker', { REDIS_URL: redis.url, GASPER_NODE_ID: `t-key-${process.pid}` });
      expect(generated.code, generated.output).to.equal(1);
      expect(generated.output).to.include('GASPER_SECRET_KEY: differs');
    } finally {
      await client.del(keys.secretKeyCheck);
      client.disconnect();
    }
  });

  it('a bad GASPER_ADMIN_TOKEN stops the API with exit 2, naming it', async () => {
    const result = await run('api', { REDIS_URL: redis.url, GASPER_ADMIN_TOKEN: 'short' });
    expect(result.code, result.output).to.equal(2);
    expect(result.output).to.match(/^gasper: bad configuration: GASPER_ADMIN_TOKEN: /);
  });
});
