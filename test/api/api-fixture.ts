import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import supertest from 'supertest';
import { createApiApp } from '../../src/api/app.ts';
import { ensureAdminToken } from '../../src/api/auth.ts';
import type { ApiDeps, ApiOptions } from '../../src/api/deps.ts';
import { keys } from '../../src/core/keys.ts';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis } from '../../src/core/redis.ts';
import { createSecretBox, type SecretBox } from '../../src/core/secret-box.ts';
import { createEnqueuer } from '../../src/jobs/enqueue.ts';
import { NodeQueues } from '../../src/jobs/queues.ts';
import { AppStore } from '../../src/store/apps.ts';
import { NodeStore, type NodeDocument } from '../../src/store/nodes.ts';
import { RateLimiter } from '../../src/store/rate-limits.ts';
import { TokenStore } from '../../src/store/tokens.ts';
import { UserStore } from '../../src/store/users.ts';
import { startTestRedis } from '../support/redis.ts';

/** A random suffix, so names never collide across runs or test files. */
export const suffix = () => crypto.randomBytes(3).toString('hex');

/** A unique, valid app name. */
export const appName = (base = 'app') => `${base}-${suffix()}`;

export const JOB_ATTEMPTS = 3;

export const defaultOptions: ApiOptions = {
  domain: 'apps.test',
  proxyPort: 8088,
  allowLocalRepos: true,
  nodeTimeoutMs: 30_000,
  authFailuresPerMinute: 1000,
  changesPerMinute: 1000,
};

export interface Snapshot {
  keys: string[];
  jobCounts: Record<string, Record<string, number>>;
}

export interface ApiFixture {
  redis: Redis;
  apps: AppStore;
  nodes: NodeStore;
  queues: NodeQueues;
  secrets: SecretBox;
  deps: ApiDeps;
  token: string;
  /** The express app built with `deps.options`. */
  app: Express;
  /** Another express app on the same Redis and stores, with some options changed. */
  withOptions(overrides: Partial<ApiOptions>): Express;
  /** Registers a node (fresh heartbeat unless `heartbeatAt` is given) and opens its queue. */
  registerNode(id: string, heartbeatAt?: Date): Promise<NodeDocument>;
  /** Authenticated requests against `app` (or another express app). */
  get(path: string, app?: Express): supertest.Test;
  post(path: string, app?: Express): supertest.Test;
  patch(path: string, app?: Express): supertest.Test;
  put(path: string, app?: Express): supertest.Test;
  del(path: string, app?: Express): supertest.Test;
  /** Every `gasper:*` key and the job counts of every known queue. */
  snapshot(): Promise<Snapshot>;
  /** Asserts nothing was written since `before`, and that `name` (when given) is not an app. */
  expectNothingCreated(before: Snapshot, name?: string): Promise<void>;
  close(): Promise<void>;
}

/** A real redis-server, real stores and BullMQ queues, and the API's express app around them. */
export async function startApiFixture(options: Partial<ApiOptions> = {}): Promise<ApiFixture> {
  const handle = await startTestRedis();
  const redis = connectRedis(handle.url);
  const apps = new AppStore(redis);
  const nodes = new NodeStore(redis);
  const queues = new NodeQueues(redis);
  const secrets = createSecretBox(crypto.randomBytes(32).toString('hex'));
  const token = `gsp_test_${crypto.randomBytes(16).toString('hex')}`;
  await ensureAdminToken(redis, token);
  const deps: ApiDeps = {
    redis,
    apps,
    nodes,
    users: new UserStore(redis),
    tokens: new TokenStore(redis),
    limits: { authFailures: new RateLimiter(redis, 'auth-failures'), changes: new RateLimiter(redis, 'changes') },
    queues,
    enqueue: createEnqueuer(redis, queues, JOB_ATTEMPTS),
    secrets,
    log: createLogger('silent'),
    options: { ...defaultOptions, ...options },
  };
  const app = createApiApp(deps);
  const auth = (t: supertest.Test) => t.set('authorization', `Bearer ${token}`);

  async function openQueue(nodeId: string): Promise<void> {
    // BullMQ writes the queue's meta key asynchronously when a Queue is first opened: let that
    // happen now, so it never shows up in a before/after comparison of keys.
    const queue = queues.forNode(nodeId);
    await queue.waitUntilReady();
    const meta = `${queue.qualifiedName}:meta`;
    for (let i = 0; i < 100 && !(await redis.exists(meta)); i++) await new Promise((r) => setTimeout(r, 10));
  }

  async function snapshot(): Promise<Snapshot> {
    const jobCounts: Snapshot['jobCounts'] = {};
    for (const queue of queues.all()) jobCounts[queue.name] = await queue.getJobCounts();
    // Rate-limit counters are bookkeeping, not state a request creates.
    const all = await redis.keys('gasper:*');
    return { keys: all.filter((k) => !k.startsWith('gasper:rate:')).sort(), jobCounts };
  }

  return {
    redis,
    apps,
    nodes,
    queues,
    secrets,
    deps,
    token,
    app,
    withOptions: (overrides) => createApiApp({ ...deps, options: { ...deps.options, ...overrides } }),
    async registerNode(id, heartbeatAt = new Date()) {
      const node: NodeDocument = {
        id,
        address: '127.0.0.1',
        // Room for a hundred apps of the default size: placement refuses apps a node cannot hold.
        capacity: { cpus: 16, memoryBytes: 64 * 1024 ** 3 },
        startedAt: new Date(heartbeatAt.getTime() - 60_000).toISOString(),
        heartbeatAt: heartbeatAt.toISOString(),
      };
      await nodes.put(node);
      await openQueue(id);
      return node;
    },
    get: (path, target = app) => auth(supertest(target).get(path)),
    post: (path, target = app) => auth(supertest(target).post(path)),
    patch: (path, target = app) => auth(supertest(target).patch(path)),
    put: (path, target = app) => auth(supertest(target).put(path)),
    del: (path, target = app) => auth(supertest(target).delete(path)),
    snapshot,
    async expectNothingCreated(before, name) {
      const after = await snapshot();
      expect(after.keys, 'gasper:* keys').to.deep.equal(before.keys);
      expect(after.jobCounts, 'job counts').to.deep.equal(before.jobCounts);
      if (name !== undefined) {
        expect(await redis.exists(keys.app(name)), 'app key').to.equal(0);
        expect(await redis.sismember(keys.apps, name), 'apps set').to.equal(0);
        expect(await apps.get(name)).to.equal(undefined);
      }
    },
    async close() {
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
      await handle.close();
    },
  };
}

/** Asserts the error shape `{statusCode, code, message, fields?}`. */
export function expectError(res: supertest.Response, status: number, code: string): void {
  expect(res.status, `status (body: ${JSON.stringify(res.body)})`).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/json/);
  expect(res.body.statusCode).to.equal(status);
  expect(res.body.code).to.equal(code);
  expect(res.body.message).to.be.a('string').and.not.equal('');
}

/** A 400 VALIDATION_FAILED whose `fields` names `field`. */
export function expectFieldError(res: supertest.Response, field: string): void {
  expectError(res, 400, 'VALIDATION_FAILED');
  expect(res.body.fields, 'fields').to.be.an('object');
  expect(Object.keys(res.body.fields), `fields: ${JSON.stringify(res.body.fields)}`).to.include(field);
  expect(res.body.fields[field]).to.be.a('string').and.not.equal('');
  expect(res.body.message).to.include(field);
}

/** A valid `POST /apps` body. */
export function validBody(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, repo: { url: 'file:///srv/git/demo.git' }, runtime: 'node', ...extra };
}
