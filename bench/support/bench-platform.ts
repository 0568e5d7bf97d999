/**
 * A whole platform in the benchmark's process, on free loopback ports, and the few API calls the
 * deploy benchmarks make: a client as a user's script would be (fetch with the admin token).
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/log.ts';
import { startPlatform } from '../../src/platform.ts';
import { benchPlatformEnv } from './platform-env.ts';

export interface BenchPlatform {
  proxyPort: number;
  /** `<app>.<domain>`: the host the proxy routes to the app. */
  hostOf(app: string): string;
  call(method: string, urlPath: string, body?: unknown): Promise<{ job?: { id: string } }>;
  /** Waits for a job to complete; throws with its error when it fails. */
  waitJob(id: string): Promise<void>;
  /** Rejects when the job fails; never settles otherwise (to race with a wait for the app). */
  failure(id: string): Promise<never>;
  close(): Promise<void>;
}

export async function startBenchPlatform(extraEnv: Record<string, string> = {}): Promise<BenchPlatform> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-bench-'));
  const token = crypto.randomBytes(16).toString('hex');
  const config = loadConfig(benchPlatformEnv(stateDir, token, extraEnv));
  const platform = await startPlatform(config, undefined, createLogger(config.logLevel));
  const apiPort = platform.api!.port;
  const call = async (method: string, urlPath: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as { job?: { id: string; state?: string; error?: string } };
    if (res.status >= 400) throw new Error(`${method} ${urlPath}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const waitJob = async (id: string) => {
    for (;;) {
      const { job } = (await call('GET', `/jobs/${id}`)) as { job?: { state?: string; error?: string } };
      if (job?.state === 'completed') return;
      if (job?.state === 'failed') throw new Error(`job ${id} failed: ${job.error}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    proxyPort: platform.proxy!.port,
    hostOf: (app) => `${app}.${config.domain}`,
    call,
    waitJob,
    failure: (id) => waitJob(id).then(() => new Promise<never>(() => undefined)),
    async close() {
      await platform.close();
      await fs.rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** GET / through `port` with `host` until the body passes `accept` (refused and non-200 are "not yet"). */
export async function untilBody(
  port: number,
  host: string,
  accept: (body: string) => boolean = () => true,
  deadlineMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const reply = await new Promise<{ status: number; body: string }>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      });
      req.on('error', () => resolve({ status: 0, body: '' }));
    });
    if (reply.status === 200 && accept(reply.body)) return;
    if (Date.now() > deadline)
      throw new Error(
        `no accepted 200 from ${host} within ${deadlineMs} ms (last: ${reply.status} ${reply.body.slice(0, 80)})`,
      );
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const median = (values: number[]) => percentile(values, 50);
