import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';

/**
 * A private redis-server for one test file, in a temporary directory that closing removes.
 * Fails (never skips) when redis-server is missing: tests need the real thing.
 */
export async function startTestRedis(): Promise<EmbeddedRedisHandle> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-redis-'));
  const redis = await startEmbeddedRedis(dir);
  return {
    url: redis.url,
    async close() {
      await redis.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
