import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { loadConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/log.ts';
import { startPlatform, type PlatformHandle } from '../../src/platform.ts';
import { removeNodeContainers } from './docker.ts';

export interface TestPlatform {
  platform: PlatformHandle;
  nodeId: string;
  stateDir: string;
  token: string;
  apiUrl: string;
  proxyPort: number;
  /** Port of the SSH service (on 127.0.0.1). */
  sshPort: number;
  /** A supertest client for the API with the admin token set. */
  api(): {
    get(p: string): supertest.Test;
    post(p: string): supertest.Test;
    put(p: string): supertest.Test;
    patch(p: string): supertest.Test;
    delete(p: string): supertest.Test;
  };
  /** Polls `GET /jobs/:id` until the job is completed or failed. */
  waitForJob(id: string, timeoutMs?: number): Promise<JobView>;
  close(): Promise<void>;
}

export interface JobView {
  id: string;
  state: string;
  log: string[];
  error: string | null;
  result: unknown;
  progress: { percent: number; step: string };
}

/**
 * The whole platform (private Redis, worker, proxy, API) on free loopback ports, with its own
 * state directory and a node id of its own, so test files never see each other's containers.
 */
export async function startTestPlatform(env: Record<string, string> = {}): Promise<TestPlatform> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-state-'));
  // A test may choose the node id (two platforms sharing one): close() cleans up that node.
  const nodeId = env.GASPER_NODE_ID ?? `t-${crypto.randomBytes(4).toString('hex')}`;
  const token = `test-${crypto.randomBytes(16).toString('hex')}`;
  const config = loadConfig({
    GASPER_STATE_DIR: stateDir,
    GASPER_API_PORT: '0',
    GASPER_API_HOST: '127.0.0.1',
    GASPER_PROXY_PORT: '0',
    GASPER_PROXY_HOST: '127.0.0.1',
    GASPER_HTTPS_PORT: '0',
    GASPER_HTTPS_HOST: '127.0.0.1',
    GASPER_SSH_PORT: '0',
    GASPER_SSH_HOST: '127.0.0.1',
    GASPER_TERMINAL_PORT: '0',
    GASPER_DNS_PORT: '0',
    GASPER_DNS_HOST: '127.0.0.1',
    GASPER_NODE_ID: nodeId,
    GASPER_ADMIN_TOKEN: token,
    GASPER_ALLOW_LOCAL_REPOS: '1',
    // No test may reach a public CA: the certificate tests start pebble and turn ACME on.
    GASPER_ACME: '0',
    GASPER_HEALTH_TIMEOUT_MS: '20000',
    // One proxy in the platform process: test files start many platforms; proxy processes have
    // their own test (test/proxy/processes.redis.test.ts).
    GASPER_PROXY_PROCESSES: '1',
    GASPER_LOG_LEVEL: process.env.GASPER_TEST_LOG_LEVEL ?? 'silent',
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
    // Images built under another prefix (docker/build-images.sh with GASPER_IMAGE_PREFIX) for a test run.
    ...(process.env.GASPER_IMAGE_PREFIX ? { GASPER_IMAGE_PREFIX: process.env.GASPER_IMAGE_PREFIX } : {}),
    ...env,
  });
  const platform = await startPlatform(config, undefined, createLogger(config.logLevel));
  const apiUrl = `http://127.0.0.1:${platform.api!.port}`;
  const auth = (t: supertest.Test) => t.set('authorization', `Bearer ${token}`);
  const api = () => ({
    get: (p: string) => auth(supertest(apiUrl).get(p)),
    post: (p: string) => auth(supertest(apiUrl).post(p)),
    put: (p: string) => auth(supertest(apiUrl).put(p)),
    patch: (p: string) => auth(supertest(apiUrl).patch(p)),
    delete: (p: string) => auth(supertest(apiUrl).delete(p)),
  });
  return {
    platform,
    nodeId,
    stateDir,
    token,
    apiUrl,
    proxyPort: platform.proxy!.port,
    sshPort: platform.ssh!.port,
    api,
    async waitForJob(id, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await api().get(`/jobs/${id}`).expect(200);
        const job = res.body.job as JobView;
        if (job.state === 'completed' || job.state === 'failed') return job;
        if (Date.now() > deadline)
          throw new Error(`job ${id} still ${job.state} after ${timeoutMs} ms: ${job.log.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      await platform.close();
      await removeNodeContainers(nodeId);
      await fs.rm(stateDir, { recursive: true, force: true });
    },
  };
}

export interface ProxyResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request through the proxy on 127.0.0.1 with the given Host header. */
export function viaProxy(
  port: number,
  host: string,
  urlPath = '/',
  headers: Record<string, string> = {},
): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: urlPath, headers: { host, ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
}
