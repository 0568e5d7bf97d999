import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import supertest from 'supertest';
import { loadConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/log.ts';
import { startPlatform, type PlatformHandle } from '../../src/platform.ts';
import type { JobView } from './platform.ts';

const gasperBin = fileURLToPath(new URL('../../bin/gasper.js', import.meta.url));

/** A `gasper <command>` child process, its output kept for failure messages. */
export interface GasperProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves when the process has exited (at once if it already has). */
  exited: Promise<number | null>;
  /** Signals the process and waits for it to exit (SIGKILL after 10 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `gasper <command>` with this process's environment and `env` over it (or `env` alone, with `inheritEnv: false`). */
export function spawnGasper(
  command: string,
  env: Record<string, string>,
  options: { inheritEnv?: boolean } = {},
): GasperProcess {
  // The services as the sources are now (through tsx), whatever state dist/ (the compiled CLI) is in.
  const childEnv = { ...(options.inheritEnv === false ? env : { ...process.env, ...env }), GASPER_FROM_SOURCE: '1' };
  const child = spawn(process.execPath, [gasperBin, command], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Environment shared by the processes of one test platform. */
export interface ClusterEnv {
  redisUrl: string;
  secretKey: string;
  extra?: Record<string, string>;
}

export const newSecretKey = () => crypto.randomBytes(32).toString('hex');

/** `gasper worker` for one node: its own state dir, node id and Docker daemon. */
export async function spawnWorker(
  cluster: ClusterEnv,
  node: { id: string; dockerHost?: string; stateDir?: string },
): Promise<GasperProcess & { stateDir: string; nodeId: string }> {
  const stateDir = node.stateDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), `gasper-test-${node.id}-`)));
  const proc = spawnGasper('worker', {
    REDIS_URL: cluster.redisUrl,
    GASPER_SECRET_KEY: cluster.secretKey,
    GASPER_STATE_DIR: stateDir,
    GASPER_NODE_ID: node.id,
    GASPER_ALLOW_LOCAL_REPOS: '1',
    // No test may reach a public CA: the certificate tests start pebble and turn ACME on.
    GASPER_ACME: '0',
    GASPER_NODE_HEARTBEAT_MS: '500',
    GASPER_NODE_TIMEOUT_MS: '3000',
    GASPER_STALLED_INTERVAL_MS: '2000',
    GASPER_RECONCILE_INTERVAL_MS: '2000',
    GASPER_HEALTH_TIMEOUT_MS: '30000',
    GASPER_LOG_LEVEL: process.env.GASPER_TEST_LOG_LEVEL ?? 'info',
    ...(node.dockerHost ? { DOCKER_HOST: node.dockerHost } : {}),
    ...cluster.extra,
  });
  return Object.assign(proc, { stateDir, nodeId: node.id });
}

/** API and proxy in this process, on free loopback ports, joined to the cluster's Redis. */
export interface ControlPlane {
  platform: PlatformHandle;
  token: string;
  proxyPort: number;
  api(): { get(p: string): supertest.Test; post(p: string): supertest.Test; delete(p: string): supertest.Test };
  waitForJob(id: string, timeoutMs?: number): Promise<JobView>;
  close(): Promise<void>;
}

export async function startControlPlane(cluster: ClusterEnv, env: Record<string, string> = {}): Promise<ControlPlane> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-control-'));
  const token = `test-${crypto.randomBytes(16).toString('hex')}`;
  const config = loadConfig({
    REDIS_URL: cluster.redisUrl,
    GASPER_SECRET_KEY: cluster.secretKey,
    GASPER_STATE_DIR: stateDir,
    GASPER_API_PORT: '0',
    GASPER_API_HOST: '127.0.0.1',
    GASPER_PROXY_PORT: '0',
    GASPER_PROXY_HOST: '127.0.0.1',
    GASPER_HTTPS_PORT: '0',
    GASPER_HTTPS_HOST: '127.0.0.1',
    GASPER_ADMIN_TOKEN: token,
    GASPER_ALLOW_LOCAL_REPOS: '1',
    GASPER_NODE_HEARTBEAT_MS: '500',
    GASPER_NODE_TIMEOUT_MS: '3000',
    GASPER_LOG_LEVEL: process.env.GASPER_TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const platform = await startPlatform(config, ['proxy', 'api'], createLogger(config.logLevel));
  const apiUrl = `http://127.0.0.1:${platform.api!.port}`;
  const auth = (t: supertest.Test) => t.set('authorization', `Bearer ${token}`);
  const api = () => ({
    get: (p: string) => auth(supertest(apiUrl).get(p)),
    post: (p: string) => auth(supertest(apiUrl).post(p)),
    delete: (p: string) => auth(supertest(apiUrl).delete(p)),
  });
  return {
    platform,
    token,
    proxyPort: platform.proxy!.port,
    api,
    async waitForJob(id, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = (await api().get(`/jobs/${id}`).expect(200)).body.job as JobView;
        if (job.state === 'completed' || job.state === 'failed') return job;
        if (Date.now() > deadline)
          throw new Error(`job ${id} still ${job.state} after ${timeoutMs} ms: ${job.log.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      await platform.close();
      await fs.rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails with `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
