import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { lifecycleOptionsFromEnv, type LifecycleOptions } from './lifecycle-options.ts';

/**
 * Gasper's whole configuration, parsed once from the environment and frozen. No other module
 * reads `process.env`: each service receives the slice it needs from its entry.
 */
const port = z.coerce.number().int().min(0).max(65535);
const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));
const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z.object({
  GASPER_STATE_DIR: z.string().min(1).default(path.join(os.homedir(), '.gasper')),
  GASPER_API_PORT: port.default(3000),
  GASPER_API_HOST: z.string().min(1).default('0.0.0.0'),
  GASPER_PROXY_PORT: port.default(8080),
  GASPER_PROXY_HOST: z.string().min(1).default('0.0.0.0'),
  GASPER_DOMAIN: z
    .string()
    .regex(/^(?=.{1,200}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'must be a lowercase DNS name')
    .default('localhost'),
  REDIS_URL: optional.pipe(z.url({ protocol: /^rediss?$/ }).optional()),
  DOCKER_HOST: optional,
  GASPER_NODE_ID: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes (max 40)')
    .default(os.hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '').slice(0, 40) || 'node'),
  GASPER_NODE_ADDRESS: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
  GASPER_ADMIN_TOKEN: optional.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  GASPER_SECRET_KEY: optional.pipe(
    z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters (32 bytes)').optional(),
  ),
  GASPER_ALLOW_LOCAL_REPOS: flag.default(false),
  GASPER_EXTRA_CA_CERTS: optional,
  NODE_EXTRA_CA_CERTS: optional,
  GASPER_IMAGE_PREFIX: z.string().min(1).default('gasper'),
  GASPER_RUNTIME_IMAGES: optional,
  GASPER_HEALTH_TIMEOUT_MS: z.coerce.number().int().min(500).default(60_000),
  GASPER_BUILD_TIMEOUT_MS: z.coerce.number().int().min(1000).default(15 * 60_000),
  GASPER_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  GASPER_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  GASPER_KEEP_RELEASES: z.coerce.number().int().min(1).max(100).default(5),
  GASPER_DEFAULT_CPU: z.coerce.number().min(0.05).max(256).default(1),
  GASPER_DEFAULT_MEMORY_MB: z.coerce.number().int().min(32).default(512),
  GASPER_MAX_CPU: z.coerce.number().min(0.05).max(256).default(4),
  GASPER_MAX_MEMORY_MB: z.coerce.number().int().min(32).default(4096),
  GASPER_MAX_INSTANCES: z.coerce.number().int().min(1).max(100).default(10),
  GASPER_PIDS_LIMIT: z.coerce.number().int().min(16).default(1024),
  GASPER_DRAIN_GRACE_MS: z.coerce.number().int().min(0).default(1000),
  GASPER_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  GASPER_STOP_TIMEOUT_S: z.coerce.number().int().min(0).max(600).default(10),
  GASPER_HEALTH_INTERVAL_MS: z.coerce.number().int().min(200).default(5000),
  GASPER_HEALTH_FAILURES: z.coerce.number().int().min(1).max(100).default(3),
  GASPER_RESTART_BACKOFF_MS: z.coerce.number().int().min(10).default(1000),
  GASPER_RESTART_BACKOFF_MAX_MS: z.coerce.number().int().min(10).default(60_000),
  GASPER_CRASH_LOOP_RESTARTS: z.coerce.number().int().min(1).max(100).default(5),
  GASPER_CRASH_LOOP_WINDOW_MS: z.coerce.number().int().min(1000).default(10 * 60_000),
  GASPER_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  stateDir: string;
  api: { host: string; port: number };
  proxy: { host: string; port: number };
  domain: string;
  redisUrl: string | undefined;
  dockerHost: string | undefined;
  node: { id: string; address: string };
  adminToken: string | undefined;
  secretKey: string | undefined;
  allowLocalRepos: boolean;
  /** Extra CA bundle mounted read-only into build and app containers (corporate TLS proxies). */
  extraCaCerts: string | undefined;
  imagePrefix: string;
  /** Image per runtime, overriding `<prefix>/<runtime>:latest` (e.g. official images). */
  runtimeImages: Record<string, string>;
  healthTimeoutMs: number;
  buildTimeoutMs: number;
  workerConcurrency: number;
  jobAttempts: number;
  logLevel: Env['GASPER_LOG_LEVEL'];
  /** Releases, limits, drain and crash handling: see core/lifecycle-options.ts. */
  lifecycle: LifecycleOptions;
}

export class ConfigError extends Error {
  constructor(readonly variable: string, reason: string) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** `node=node:20-bookworm-slim,python=python:3.12-slim` → `{node: ..., python: ...}` */
function parseImageMap(value: string | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of (value ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [runtime, image] = pair.split('=', 2).map((s) => s?.trim());
    if (!runtime || !image) throw new ConfigError('GASPER_RUNTIME_IMAGES', `"${pair}" is not runtime=image`);
    map[runtime] = image;
  }
  return map;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  // An empty variable means "unset" (as `FOO= gasper up` intends), not zero or an empty name.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  return deepFreeze({
    stateDir: path.resolve(e.GASPER_STATE_DIR),
    api: { host: e.GASPER_API_HOST, port: e.GASPER_API_PORT },
    proxy: { host: e.GASPER_PROXY_HOST, port: e.GASPER_PROXY_PORT },
    domain: e.GASPER_DOMAIN,
    redisUrl: e.REDIS_URL,
    dockerHost: e.DOCKER_HOST,
    node: { id: e.GASPER_NODE_ID, address: e.GASPER_NODE_ADDRESS },
    adminToken: e.GASPER_ADMIN_TOKEN,
    secretKey: e.GASPER_SECRET_KEY,
    allowLocalRepos: e.GASPER_ALLOW_LOCAL_REPOS,
    extraCaCerts: e.GASPER_EXTRA_CA_CERTS ?? e.NODE_EXTRA_CA_CERTS,
    imagePrefix: e.GASPER_IMAGE_PREFIX,
    runtimeImages: parseImageMap(e.GASPER_RUNTIME_IMAGES),
    healthTimeoutMs: e.GASPER_HEALTH_TIMEOUT_MS,
    buildTimeoutMs: e.GASPER_BUILD_TIMEOUT_MS,
    workerConcurrency: e.GASPER_WORKER_CONCURRENCY,
    jobAttempts: e.GASPER_JOB_ATTEMPTS,
    logLevel: e.GASPER_LOG_LEVEL,
    lifecycle: lifecycleOptionsFromEnv(e, (variable, reason) => new ConfigError(variable, reason)),
  });
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) if (child && typeof child === 'object') deepFreeze(child);
  return Object.freeze(value);
}
