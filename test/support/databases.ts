import { docker } from './docker.ts';
import type { TestPlatform } from './platform.ts';

/** Fails (never skips) when an engine image is missing: tests don't build images, the script does. */
export async function requireDatabaseImages(engines: readonly string[]): Promise<void> {
  for (const engine of engines) {
    await docker
      .getImage(`gasper/${engine}:latest`)
      .inspect()
      .catch(() => {
        throw new Error(`image gasper/${engine}:latest is missing: run docker/build-images.sh ${engines.join(' ')}`);
      });
  }
}

export interface CreatedDatabase {
  name: string;
  password: string;
  url: string;
  port: number;
  body: Record<string, any>;
}

/** `POST /databases` and waits for the provision job; throws with the job log if it failed. */
export async function createDatabase(
  gasper: TestPlatform,
  name: string,
  engine: string,
  extra: Record<string, unknown> = {},
): Promise<CreatedDatabase> {
  const res = await gasper
    .api()
    .post('/databases')
    .send({ name, engine, ...extra });
  if (res.status !== 202) throw new Error(`POST /databases answered ${res.status}: ${JSON.stringify(res.body)}`);
  const job = await gasper.waitForJob(res.body.job.id, 180_000);
  if (job.state !== 'completed') throw new Error(`provision of ${name} failed: ${job.error}\n${job.log.join('\n')}`);
  return {
    name,
    password: res.body.credentials.password,
    url: res.body.credentials.url,
    port: res.body.database.port,
    body: res.body,
  };
}

/** Polls `check` until it resolves, for servers coming back after a restart. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
