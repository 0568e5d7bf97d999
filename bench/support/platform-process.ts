/**
 * The platform as a user starts it: `gasper up` in a process of its own (its own private
 * redis-server, as `gasper up` starts one when REDIS_URL is unset), on free loopback ports, with
 * its own state directory. The benchmark then talks to it only over HTTP, as a user's client does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/core/config.ts';
import { ensureCliBuilt } from '../../test/support/cli.ts';
import { benchPlatformEnv } from './platform-env.ts';
import { freePort } from './processes.ts';

const gasperBin = fileURLToPath(new URL('../../bin/gasper.js', import.meta.url));

export interface PlatformProcess {
  child: ChildProcess;
  apiUrl: string;
  proxyPort: number;
  token: string;
  hostOf(app: string): string;
  call(method: string, urlPath: string, body?: unknown): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startPlatformProcess(extraEnv: Record<string, string> = {}): Promise<PlatformProcess> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-bench-'));
  const token = crypto.randomBytes(16).toString('hex');
  // The proxy's and API's ports are chosen here: the client must know them, as a user does.
  const [apiPort, proxyPort] = [await freePort(), await freePort()];
  const env = benchPlatformEnv(stateDir, token, {
    GASPER_API_PORT: String(apiPort),
    GASPER_PROXY_PORT: String(proxyPort),
    ...extraEnv,
  });
  const { domain } = loadConfig(env);
  const inherited = { ...process.env };
  delete inherited.REDIS_URL; // `gasper up` starts its own Redis, as on a fresh machine.
  // Compiled, as a user runs it (dist/, built first when older than the sources);
  // BENCH_FROM_SOURCE=1 runs the sources through tsx instead.
  const fromSource = process.env.BENCH_FROM_SOURCE === '1';
  if (!fromSource) await ensureCliBuilt();
  const child = spawn(process.execPath, [gasperBin, 'up'], {
    env: { ...inherited, ...env, ...(fromSource ? { GASPER_FROM_SOURCE: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const call = async (method: string, urlPath: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 400) throw new Error(`${method} ${urlPath}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await fs.rm(stateDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await close();
      throw new Error(`gasper up exited before its API answered:\n${output}`);
    }
    if (
      await call('GET', '/apps').then(
        () => true,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`gasper up: no API on ${apiUrl} within 120 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, apiUrl, proxyPort, token, hostOf: (app) => `${app}.${domain}`, call, close };
}
