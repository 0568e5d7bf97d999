import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { lifecycleOptionsFromEnv, type LifecycleOptions } from './lifecycle-options.ts';
import { networkPoolProblem } from './networks.ts';

/**
 * Gasper's whole configuration, parsed once from the environment and frozen. No other module
 * reads `process.env`: each service receives the slice it needs from its entry.
 *
 * Each variable carries its meaning (`.describe`, or `.meta({description, shownDefault})` when
 * the default is not a plain value): `npm run docs` writes them into
 * docs/operations/configuration.md, and test/docs checks that page against this schema.
 */
const port = z.coerce.number().int().min(0).max(65535);
const dnsNamePattern = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));
const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

export const envSchema = z.object({
  GASPER_STATE_DIR: z.string().min(1).default(path.join(os.homedir(), '.gasper')).meta({
    description: "release directories, the embedded Redis's data, the secret key",
    shownDefault: '`~/.gasper`',
  }),
  GASPER_API_PORT: port.default(3000).describe('port of the REST API (and the dashboard it serves)'),
  GASPER_API_HOST: z.string().min(1).default('0.0.0.0').describe('address the REST API listens on'),
  GASPER_API_URL: optional
    .pipe(
      z
        .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
        .transform((u) => u.replace(/\/+$/, ''))
        .optional(),
    )
    .meta({
      description: "the API's public URL (`https://gasper.example.com`), used for the webhook URLs it hands out",
      shownDefault: 'unset: the address each request came to',
    }),
  GASPER_PROXY_PORT: port.default(8080).describe('port of the reverse proxy'),
  GASPER_PROXY_HOST: z.string().min(1).default('0.0.0.0').describe('address the reverse proxy listens on'),
  GASPER_HTTPS_PORT: port
    .default(8443)
    .describe(
      "port of the proxy's HTTPS listener (TLS 1.2+, certificates by SNI). 8443 starts without root; on a public server set 443 and bind it directly (root or `CAP_NET_BIND_SERVICE`, not a port redirect: redirects to HTTPS name this port; see docs/operations/public-server.md). With a platform certificate, apps' URLs in API answers use it",
    ),
  GASPER_HTTPS_HOST: optional.meta({
    description: 'address the HTTPS listener listens on',
    shownDefault: '`GASPER_PROXY_HOST`',
  }),
  GASPER_PLATFORM_HOST: optional
    .pipe(z.string().toLowerCase().regex(dnsNamePattern, 'must be a DNS name').optional())
    .meta({
      description:
        'host name of Gasper itself (API and dashboard) on the proxy: requests for it go to the API. With a platform certificate, plain HTTP to it is redirected to HTTPS and the webhook URLs the API hands out are `https://<it>`',
      shownDefault: '`gasper.<domain>`',
    }),
  GASPER_PLATFORM_UPSTREAM: optional
    .pipe(
      z
        .string()
        .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/, 'must be host:port')
        .optional(),
    )
    .meta({
      description: "where the proxy sends requests for the platform host: the API's `host:port`",
      shownDefault: '`127.0.0.1:<GASPER_API_PORT>` (or `GASPER_API_HOST` when it is a specific address)',
    }),
  GASPER_TLS_CERT: optional.meta({
    description:
      'PEM file of the platform certificate (with its chain) for `*.<domain>` and `<domain>`, served over HTTPS to names without a certificate of their own; reloaded when the file changes. Needs `GASPER_TLS_KEY`. Set, the API hands out `https://` URLs for apps and webhooks (an API on another machine than the proxy: set it there too; the file is not read there)',
    shownDefault: 'unset: HTTPS serves custom domains with ACME certificates only',
  }),
  GASPER_TLS_KEY: optional.meta({
    description: "PEM file of the platform certificate's private key (read by the proxy only)",
    shownDefault: 'unset',
  }),
  GASPER_SSH_PORT: port
    .default(2222)
    .describe('port of the SSH service. Its host key is `<state>/ssh/host_ed25519_key`'),
  GASPER_SSH_HOST: z.string().min(1).default('0.0.0.0').describe('address the SSH service listens on'),
  GASPER_TERMINAL_PORT: port
    .default(2223)
    .describe(
      "port of the SSH service's web-terminal WebSocket listener (on `GASPER_TERMINAL_HOST`). Browsers never reach it directly: the API forwards `/terminal` upgrades to it (`GASPER_TERMINAL_UPSTREAM`), and it opens a shell only for a ticket the API issued",
    ),
  GASPER_TERMINAL_HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe(
      'address the web-terminal listener binds. Loopback: the API of the same machine forwards to it; with the API on another machine, an address that machine reaches (private network)',
    ),
  GASPER_TERMINAL_UPSTREAM: optional
    .pipe(
      z
        .string()
        .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/, 'must be host:port')
        .optional(),
    )
    .meta({
      description:
        "where the API forwards the dashboard's web-terminal WebSocket (`/terminal`): an SSH service's terminal listener, `host:port`",
      shownDefault: '`127.0.0.1:<GASPER_TERMINAL_PORT>` (in one process: the port bound)',
    }),
  GASPER_PROXY_METRICS_PORT: port.optional().meta({
    description:
      'for a proxy running on its own: the port where it serves `GET /metrics` (on `GASPER_PROXY_HOST`), to `Authorization: Bearer <GASPER_METRICS_TOKEN>` only; setting it without `GASPER_METRICS_TOKEN` is refused',
    shownDefault: 'unset: not served',
  }),
  GASPER_PROXY_PROCESSES: z.coerce.number().int().min(1).max(256).default(os.availableParallelism()).meta({
    description:
      'proxy processes sharing the proxy ports (node:cluster), each following the event stream; one that dies is restarted with backoff. `1`: the proxy runs inside the platform process',
    shownDefault: 'the number of cores (`os.availableParallelism()`)',
  }),
  GASPER_DOMAIN: z
    .string()
    .regex(
      /^(?=.{1,200}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/,
      'must be a lowercase DNS name',
    )
    .default('localhost')
    .describe('apps are `<app>.<domain>`; the zone the DNS server is authoritative for'),
  REDIS_URL: optional.pipe(z.url({ protocol: /^rediss?$/ }).optional()).meta({
    description:
      'shared Redis (required for `gasper api`/`worker`/`proxy`/`dns`/`ssh` on their own). It must answer within 5 s at start and use `maxmemory-policy noeviction` (BullMQ needs it), or the process stops',
    shownDefault:
      'unset: a private `redis-server` child with its data under `<state>/redis`, AOF on, `noeviction`, loopback only',
  }),
  DOCKER_HOST: optional.meta({ description: '`unix:///path` or `tcp://host:port`', shownDefault: 'the local socket' }),
  GASPER_NODE_ID: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes (max 40)')
    .default(
      os
        .hostname()
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .replace(/^-+/, '')
        .slice(0, 40) || 'node',
    )
    .meta({
      description: "this node's id (lowercase, digits, dashes); its queue is `node-<id>`",
      shownDefault: 'the host name',
    }),
  GASPER_NODE_ADDRESS: z
    .union([z.ipv4(), z.ipv6()])
    .default('127.0.0.1')
    .describe('address container ports are published on and the proxy reaches them at'),
  GASPER_NETWORK_POOL: z
    .string()
    .default('10.210.0.0/16')
    .refine((v) => networkPoolProblem(v) === undefined, {
      error: (issue) => networkPoolProblem(String(issue.input)) ?? 'invalid',
    })
    .describe(
      "IPv4 range the bridge network of each app and each database gets a /26 of (Docker's own pools hold about 30 networks). Subnets already used by Docker or routed on the host are skipped",
    ),
  GASPER_APP_FIREWALL_DENY: optional.meta({
    description:
      "with `GASPER_APP_FIREWALL`: comma-separated IPv4/IPv6 addresses or CIDRs (another machine's API, SSH, a private network) that app containers may not open connections to either",
    shownDefault: 'unset: none besides Redis and link-local',
  }),
  GASPER_APP_FIREWALL: flag
    .default(true)
    .describe(
      "on a worker: keep app, build and database containers from opening connections to this host's own services (API, SSH, DNS, Redis, metrics; only the proxy's port stays open) and to the Redis of `REDIS_URL` elsewhere, with iptables rules of its own chain. The worker refuses to start when iptables cannot be used; `off` leaves the host reachable (see the security notes)",
    ),
  GASPER_NODE_DOCKER_HOST: optional
    .pipe(
      z
        .string()
        .regex(/^(unix|tcp|http|https):\/\/\S+$/, 'must be unix://, tcp://, http:// or https:// (DOCKER_HOST syntax)')
        .optional(),
    )
    .meta({
      description:
        "this node's Docker endpoint (`tcp://…`, `https://…`, `unix://…`) written into its node document, so the SSH service on another node can exec into its containers. See the security notes",
      shownDefault: 'unset: not advertised',
    }),
  GASPER_NODE_HEARTBEAT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(5000)
    .describe('how often a worker rewrites its node document (capacity, usage, allocations)'),
  GASPER_NODE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(500)
    .max(600_000)
    .default(30_000)
    .describe(
      'silence after which a node is `down`: the proxy stops sending to it and its apps are redeployed elsewhere. At least twice the heartbeat',
    ),
  GASPER_RECONCILE_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(60_000)
    .describe('how often a worker removes orphan containers (it also does at start)'),
  GASPER_STALLED_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(500)
    .default(30_000)
    .describe(
      "how often BullMQ looks for jobs whose worker died (and the job lock's duration); such a job is run again",
    ),
  GASPER_CPU_OVERCOMMIT: z.coerce
    .number()
    .min(1)
    .max(64)
    .default(8)
    .describe('CPU limits placed per core of a node (1–64). Memory is never over-committed'),
  GASPER_ADMIN_TOKEN: optional.pipe(z.string().min(16, 'must be at least 16 characters').optional()).meta({
    description: 'the admin API token (16+ characters)',
    shownDefault: 'unset: generated on first start, printed once, only its SHA-256 kept',
  }),
  GASPER_SECRET_KEY: optional
    .pipe(
      z
        .string()
        .regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters (32 bytes)')
        .optional(),
    )
    .meta({
      description:
        '64 hex characters. Encrypts env values, database passwords and webhook secrets at rest. The API and every worker of one cluster must share it: one holding another key stops at start',
      shownDefault: 'unset: generated into `<state>/secret.key` (mode 600)',
    }),
  GASPER_ALLOW_LOCAL_REPOS: flag
    .default(false)
    .describe(
      'allow `file://` repositories, and repository hosts that resolve to loopback, private, link-local, CGNAT or unspecified addresses (tests, single-user set-ups). Cloud metadata addresses stay refused',
    ),
  GASPER_EXTRA_CA_CERTS: optional.meta({
    description: 'extra CA certificates for builds and apps, mounted read-only',
    shownDefault: "the host's `NODE_EXTRA_CA_CERTS`",
  }),
  NODE_EXTRA_CA_CERTS: optional.describe("Node's own variable, read only as the default of `GASPER_EXTRA_CA_CERTS`"),
  GASPER_IMAGE_PREFIX: z
    .string()
    .min(1)
    .default('gasper')
    .describe(
      'runtime images are `<prefix>/<runtime>:latest` (node: `<prefix>/node:<major>`), database images `<prefix>/<engine>:latest`',
    ),
  GASPER_RUNTIME_IMAGES: optional.meta({
    description:
      'per-runtime images, e.g. `python=python:3.11-slim`; node per major, e.g. `node:20=node:20-bookworm-slim,node:22=node:22-bookworm-slim,node:24=node:24-bookworm-slim` (a plain `node=` entry is the default major only)',
    shownDefault: 'unset: `<prefix>/<runtime>:latest`, `<prefix>/node:<major>`',
  }),
  GASPER_DATABASE_IMAGES: optional.meta({
    description: 'per-engine images, e.g. `postgres=postgres:15,mysql=mariadb:10.11`',
    shownDefault: 'unset: `<prefix>/<engine>:latest`',
  }),
  GASPER_DB_PORTS: z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, 'must be a range like 15000-19999')
    .transform((v) => v.split('-').map(Number) as [number, number])
    .refine(([min, max]) => min >= 1 && max <= 65535 && min <= max, 'must be a range of ports, low-high')
    .default([15000, 19999])
    .meta({
      description: 'host ports databases are published on, reserved per node by the API',
      shownDefault: '`15000-19999`',
    }),
  GASPER_DB_READY_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(90_000)
    .describe('how long a new database has to accept a login'),
  GASPER_DB_BACKUP_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(512 * 1024 * 1024)
    .default(64 * 1024 * 1024)
    .meta({ description: 'largest backup kept (backups live in Redis)', shownDefault: '`67108864` (64 MiB)' }),
  GASPER_DB_BACKUPS_KEPT: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(5)
    .describe('backups kept per database; older ones are dropped'),
  GASPER_HEALTH_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(500)
    .default(60_000)
    .describe('how long a new app has to answer HTTP'),
  GASPER_BUILD_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(15 * 60_000)
    .describe('how long all build commands may take together'),
  GASPER_RUN_TIMEOUT_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(3600)
    .describe(
      'how long a one-off run (`POST /apps/:name/run`, a scheduled run, the release phase) may take before its container is killed',
    ),
  GASPER_CLONE_IDLE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(3_600_000)
    .default(60_000)
    .describe(
      'a clone is stopped when git shows nothing (no answer, no progress) for this long; such a timeout is not retried',
    ),
  GASPER_CLONE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(24 * 3_600_000)
    .default(10 * 60_000)
    .describe('the longest a clone may take, however busy; such a timeout is not retried'),
  GASPER_JOBS_PER_OWNER: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(2)
    .describe(
      "app jobs of one owner a node worker runs at once; another of theirs waits (delayed, not counted as an attempt) so other owners' jobs get the free slots",
    ),
  GASPER_WORKER_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(4)
    .describe('jobs a node worker runs at once (jobs of one app always run one at a time)'),
  GASPER_JOB_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(20)
    .default(3)
    .describe('attempts for jobs that fail transiently (exponential backoff from 2 s)'),
  GASPER_AUTH_FAILURES_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(1)
    .default(30)
    .describe('failed authentications per client address (sliding minute) before `429`'),
  GASPER_CHANGES_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(1)
    .default(120)
    .describe('requests that change something, per user (sliding minute)'),
  GASPER_TRUSTED_PROXIES: optional.describe(
    'comma-separated addresses or CIDRs (or `loopback`, `linklocal`, `uniquelocal`) of reverse proxies in front of the API whose X-Forwarded-For is believed. Unset: none, the socket peer counts',
  ),
  GASPER_WEBHOOK_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .max(25 * 1024 * 1024)
    .default(2 * 1024 * 1024)
    .meta({
      description: 'largest GitHub webhook body the API reads; a larger one gets 413 unread',
      shownDefault: '`2097152` (2 MiB)',
    }),
  GASPER_LOG_LINES: z.coerce
    .number()
    .int()
    .min(100)
    .max(1_000_000)
    .default(10_000)
    .describe('lines of app output kept per app (a capped Redis stream)'),
  GASPER_LOG_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .max(1024 * 1024 * 1024)
    .default(8 * 1024 * 1024)
    .meta({
      description:
        'bytes of app output kept per app in Redis (64 KiB to 1 GiB): the oldest lines go first, whichever of this and `GASPER_LOG_LINES` is reached first',
      shownDefault: '`8388608` (8 MiB)',
    }),
  GASPER_LOG_LINE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(256)
    .max(1024 * 1024)
    .default(8 * 1024)
    .describe(
      'longest line of app output kept (256 to 1048576 bytes); a longer one is cut and ends with `… [truncated N bytes]`',
    ),
  GASPER_DOMAINS_PER_APP: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(20)
    .describe(
      'custom domains one app may have (`POST /apps/:name/domains`); one more gets `409 DOMAIN_LIMIT`. Each is a certificate to issue and renew',
    ),
  GASPER_DOMAINS_PER_OWNER: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(100)
    .describe(
      "custom domains one user may have over all their apps; one more gets `409 DOMAIN_OWNER_LIMIT` (administrators are exempt). The installation's one ACME account shares the CA's rate limits between all users",
    ),
  GASPER_DOMAIN_VERIFICATION: flag
    .default(true)
    .describe(
      "require proof that a custom domain is its adder's before it is routed or its certificate ordered: a TXT record `_gasper-verify.<domain>` holding the token the API gives. `off` only where all users trust each other (one tenant): anyone could otherwise take a name that points to the platform, its traffic and its certificate",
    ),
  GASPER_LOG_FOLLOWS_PER_USER: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(10)
    .describe(
      'log and metrics follows (`GET /apps/:name/logs?follow=1`, `GET /apps/:name/metrics?follow=1`) one user may hold open at once on one API process, counted together; one more gets `429`',
    ),
  GASPER_LOG_FOLLOWS_MAX: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(500)
    .describe(
      'log and metrics follows open at once on one API process, all users together; one more gets `429`. Log follows share one Redis connection, metrics follows another',
    ),
  GASPER_METRICS_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(500)
    .default(5000)
    .describe('pause between two rounds of CPU and memory sampling on each node'),
  GASPER_METRICS_HISTORY: z.coerce.number().int().min(2).max(10_000).default(60).describe('samples kept per instance'),
  GASPER_METRICS_TOKEN: optional
    .pipe(z.string().min(16, 'must be at least 16 characters').optional())
    .describe(
      'a token (16+ characters) that can read `GET /metrics` and nothing else. The admin token can always read it',
    ),
  GASPER_DNS_PORT: port
    .default(8053)
    .describe(
      'DNS port, UDP and TCP. Use `53` in production. The default needs no privileges and avoids 5353, which is mDNS (avahi)',
    ),
  GASPER_DNS_HOST: z
    .string()
    .min(1)
    .default('0.0.0.0')
    .describe('address the DNS server listens on. `::` listens on IPv6'),
  GASPER_DNS_PROXY_ADDRESSES: optional.meta({
    description:
      'comma-separated IPv4/IPv6 addresses that `<app>.<domain>` resolves to (A and AAAA): where the proxy listens',
    shownDefault: '`GASPER_NODE_ADDRESS`',
  }),
  GASPER_DNS_NAMESERVERS: optional.meta({
    description: "comma-separated NS names of the zone. The first is the SOA's primary",
    shownDefault: '`ns1.<domain>`',
  }),
  GASPER_DNS_NS_ADDRESSES: optional.meta({
    description: "addresses of the NS names inside the zone (the delegation's glue)",
    shownDefault: '`GASPER_DNS_PROXY_ADDRESSES`',
  }),
  GASPER_DNS_TTL: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(30)
    .describe('TTL of every record, and the negative-caching TTL (SOA minimum), in seconds'),
  GASPER_ACME: flag
    .default(true)
    .describe(
      "get certificates for apps' custom domains automatically (ACME, HTTP-01: port 80 of the domain's addresses must reach the proxy). `off`: custom domains stay `pending`, served over HTTP, and say so; their ownership is still verified",
    ),
  GASPER_ACME_DIRECTORY: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default('https://acme-v02.api.letsencrypt.org/directory')
    .describe(
      "the ACME directory of the certificate authority: Let's Encrypt's production one by default; its staging one is `https://acme-staging-v02.api.letsencrypt.org/directory`",
    ),
  GASPER_ACME_EMAIL: optional.pipe(z.email({ error: 'must be an email address' }).optional()).meta({
    description: "contact address of the installation's ACME account, for the CA's expiry and policy notices",
    shownDefault: 'unset: no contact',
  }),
  GASPER_ACME_CA_CERT: optional.meta({
    description:
      "a PEM file of a CA to trust, besides the public ones, for the ACME directory's HTTPS: a private CA, or the tests' pebble",
    shownDefault: 'unset: public CAs only',
  }),
  GASPER_ACME_DNS_SERVERS: optional.meta({
    description:
      "comma-separated DNS servers (`203.0.113.53`, `127.0.0.1:8054`, `[2001:db8::53]:53`) for the check that a custom domain resolves to `GASPER_DNS_PROXY_ADDRESSES` before its certificate is ordered: a public resolver where the local one answers differently (split-horizon DNS), or the tests' mock DNS",
    shownDefault: "unset: the system's resolvers",
  }),
  GASPER_ACME_RENEWAL_CHECK_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(6 * 3600_000)
    .meta({
      description: 'how often the cluster looks for certificates with a third of their lifetime left, and renews them',
      shownDefault: '`21600000` (6 h)',
    }),
  GASPER_KEEP_RELEASES: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(5)
    .describe(
      'releases kept on each node per app, besides the serving and the deploying one: their directories, images and stopped containers (rollback targets). Older ones are removed after each deploy and by the periodic reconciliation. 1 keeps only the serving release: no rollback',
    ),
  GASPER_DEFAULT_CPU: z.coerce
    .number()
    .min(0.05)
    .max(256)
    .default(1)
    .describe('CPU cores per instance when the app asks for none'),
  GASPER_DEFAULT_MEMORY_MB: z.coerce
    .number()
    .int()
    .min(32)
    .default(512)
    .describe('memory per instance (MiB, swap disabled) when the app asks for none'),
  GASPER_MAX_CPU: z.coerce
    .number()
    .min(0.05)
    .max(256)
    .default(4)
    .describe('the most CPU cores per instance an app may ask for'),
  GASPER_MAX_MEMORY_MB: z.coerce
    .number()
    .int()
    .min(32)
    .default(4096)
    .describe('the most memory per instance (MiB) an app may ask for'),
  GASPER_MAX_INSTANCES: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(10)
    .describe('the most instances an app may ask for'),
  GASPER_PIDS_LIMIT: z.coerce.number().int().min(16).default(1024).describe('processes and threads per container'),
  GASPER_BUILD_MEMORY_MB: z.coerce
    .number()
    .int()
    .min(32)
    .default(1024)
    .describe(
      'memory of a build container (MiB, swap disabled). A build that needs more is OOM-killed and fails saying so (not retried)',
    ),
  GASPER_BUILD_CPU: z.coerce.number().min(0.05).max(256).default(1).describe('CPU cores of a build container'),
  GASPER_BUILD_PIDS_LIMIT: z.coerce
    .number()
    .int()
    .min(16)
    .default(1024)
    .describe(
      'processes and threads of a build container; of all the RUN steps of a Dockerfile build together, on a daemon with cgroup v1 and the cgroupfs driver',
    ),
  GASPER_TMP_MB: z.coerce
    .number()
    .int()
    .min(1)
    .max(65_536)
    .default(128)
    .describe(
      "size of the tmpfs mounted at an app container's `/tmp` (MiB; it counts against the app's memory too). Builds keep `/tmp` on their writable layer, under `GASPER_APP_DISK_MB`",
    ),
  GASPER_APP_DISK_MB: z.coerce
    .number()
    .int()
    .min(1)
    .default(4096)
    .describe(
      "disk one release of an app may use on a node: its release directory (`/app`) plus its containers' writable layers. Over it, the app's instances there are stopped and the app is `crashed`, or the build fails. Checked every `GASPER_DISK_CHECK_INTERVAL_MS`, not enforced by the kernel",
    ),
  GASPER_MIN_FREE_DISK_MB: z.coerce
    .number()
    .int()
    .min(0)
    .default(1024)
    .describe(
      "free disk (MiB) a node needs on its state directory's filesystem to start a build; below it, the deploy fails at once with the figures. 0: never refuse",
    ),
  GASPER_DISK_USE_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(300_000)
    .describe(
      "how often a worker measures its node's disk use by category (releases, caches, images, containers, volumes, logs) for `GET /nodes`: du and Docker's df walk the disk, so minutes",
    ),
  GASPER_DISK_CHECK_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(500)
    .default(15_000)
    .describe('how often a worker measures the disk its apps and builds use (see `GASPER_APP_DISK_MB`)'),
  GASPER_DRAIN_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(1000)
    .describe('least time old instances keep serving after the switch'),
  GASPER_DRAIN_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(30_000)
    .describe("longest wait for old instances' connections to close"),
  GASPER_STOP_TIMEOUT_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(600)
    .default(10)
    .describe('SIGTERM → SIGKILL delay when a container is stopped'),
  GASPER_HEALTH_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(200)
    .default(5000)
    .describe('period of the health check of running instances'),
  GASPER_HEALTH_FAILURES: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(3)
    .describe('failed checks in a row that make an instance unhealthy'),
  GASPER_RESTART_BACKOFF_MS: z.coerce
    .number()
    .int()
    .min(10)
    .default(1000)
    .describe('first restart delay after a crash, doubled per recent crash'),
  GASPER_RESTART_BACKOFF_MAX_MS: z.coerce.number().int().min(10).default(60_000).describe('the longest restart delay'),
  GASPER_CRASH_LOOP_RESTARTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(5)
    .describe('crashes within the window that make a crash loop (the instance is given up on)'),
  GASPER_CRASH_LOOP_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(10 * 60_000)
    .describe('the window in which crashes are counted'),
  GASPER_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino level. Logs are JSON on stdout, with secrets redacted'),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  stateDir: string;
  /**
   * `publicUrl`: the API's address as GitHub and browsers reach it (webhook URLs): GASPER_API_URL,
   * else `https://<platform host>` when the proxy has a platform certificate.
   */
  api: { host: string; port: number; publicUrl?: string };
  /** Gasper's own host name on the proxy, and the API address it is forwarded to (unset: API port 0, unknown). */
  platform: { host: string; upstream?: string };
  /** `metricsPort`: where a proxy running on its own serves `GET /metrics` (unset: nowhere). */
  /**
   * `httpsPort`: the HTTPS listener; `tlsCertFile`/`tlsKeyFile`: the platform certificate's files
   * (both or neither).
   */
  proxy: {
    host: string;
    port: number;
    httpsPort: number;
    httpsHost: string;
    tlsCertFile?: string;
    tlsKeyFile?: string;
    metricsPort?: number;
    metricsToken?: string;
  };
  /** Proxy processes on the proxy's ports (proxy/processes.ts); 1 runs the proxy in the platform process. */
  proxyProcesses: number;
  ssh: { host: string; port: number };
  /**
   * The web terminal: the SSH service's WebSocket listener (`host`, `port`), and where the API
   * forwards `/terminal` upgrades to (`upstream`, `host:port`; unset: `127.0.0.1:<port>`).
   */
  terminal: { host: string; port: number; upstream?: string };
  domain: string;
  redisUrl: string | undefined;
  dockerHost: string | undefined;
  node: { id: string; address: string };
  /** IPv4 range app and database networks get a /26 of. */
  networkPool: string;
  /** Whether the worker keeps containers from reaching this host's services (workers/node/app-firewall.ts). */
  appFirewall: boolean;
  /** Addresses and CIDRs elsewhere containers may not reach either. */
  appFirewallDeny: string[];
  /**
   * The Docker endpoint this node advertises in its node document, so the SSH service of another
   * node can exec into this node's containers. Unset: not advertised (only local SSH sessions).
   */
  nodeDockerHost: string | undefined;
  /**
   * Several nodes: heartbeat period, the silence after which a node is down (its apps move),
   * how often a worker reconciles its containers, and how often BullMQ looks for jobs whose
   * worker died (stalled jobs are run again).
   */
  nodes: {
    heartbeatMs: number;
    timeoutMs: number;
    reconcileIntervalMs: number;
    stalledIntervalMs: number;
    cpuOvercommit: number;
  };
  adminToken: string | undefined;
  secretKey: string | undefined;
  allowLocalRepos: boolean;
  /** Extra CA bundle mounted read-only into build and app containers (corporate TLS proxies). */
  extraCaCerts: string | undefined;
  imagePrefix: string;
  /** Image per runtime, overriding `<prefix>/<runtime>:latest` (e.g. official images). */
  runtimeImages: Record<string, string>;
  /** Databases: image per engine (overriding `<prefix>/<engine>:latest`), readiness, backup limits. */
  databases: {
    images: Record<string, string>;
    /** Host ports databases are published on, reserved per node. */
    ports: { min: number; max: number };
    readyTimeoutMs: number;
    backupMaxBytes: number;
    backupsKept: number;
  };
  healthTimeoutMs: number;
  buildTimeoutMs: number;
  /** Time limit of a one-off container (runs, scheduled runs, the release phase), seconds. */
  runTimeoutS: number;
  workerConcurrency: number;
  /** App jobs of one owner a node worker runs at once (fairness between owners). */
  jobsPerOwner: number;
  /** Clone limits: silence (no answer, no progress) and total time. */
  clone: { idleTimeoutMs: number; timeoutMs: number };
  jobAttempts: number;
  /** Failed authentications per client address, and changing requests per user, per minute. */
  limits: { authFailuresPerMinute: number; changesPerMinute: number };
  /** Reverse proxies in front of the API whose X-Forwarded-For is believed (none by default). */
  trustedProxies: string[];
  /** Largest GitHub webhook body read, in bytes. */
  webhookMaxBytes: number;
  /** Custom domains one app may have. */
  domainsPerApp: number;
  /** Custom domains one user may have over all their apps (administrators: no limit). */
  domainsPerOwner: number;
  /** Whether a custom domain needs its TXT ownership proof before it is routed. */
  domainVerification: boolean;
  /** Authoritative DNS for `domain`: `<app>.<domain>` → proxyAddresses, `<db>.db.<domain>` → its node. */
  dns: {
    host: string;
    port: number;
    /** IPv4 and IPv6 addresses apps resolve to (A and AAAA). */
    proxyAddresses: string[];
    /** NS names of the zone; the first is the SOA's primary. */
    nameservers: string[];
    /** Addresses of the NS names inside the zone. */
    nsAddresses: string[];
    ttl: number;
  };
  logLevel: Env['GASPER_LOG_LEVEL'];
  /** Container output lines kept per app (a capped Redis stream). */
  logLines: number;
  /** Bytes of container output kept per app, and the longest line kept (longer ones are cut and marked). */
  logMaxBytes: number;
  logLineMaxBytes: number;
  /** Log follows open at once on one API process: per user, and in all. */
  logFollows: { perUser: number; max: number };
  /** How often the node worker samples each instance's CPU and memory, and how many samples it keeps. */
  metrics: { intervalMs: number; history: number };
  /** A token that may read `GET /metrics` only (the admin token always may). */
  metricsToken: string | undefined;
  /** Releases, limits, drain and crash handling: see core/lifecycle-options.ts. */
  lifecycle: LifecycleOptions;
  /** Automatic certificates for custom domains (src/certificates/). */
  acme: {
    enabled: boolean;
    directoryUrl: string;
    email?: string;
    /** A PEM file of an extra CA trusted for the directory's TLS. */
    caCertFile?: string;
    /** DNS servers (`host` or `host:port`) of the check before each order; unset: the system's. */
    dnsServers?: string[];
    renewalCheckMs: number;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** `node=node:20-bookworm-slim,python=python:3.12-slim` → `{node: ..., python: ...}` */
function parseImageMap(value: string | undefined, variable = 'GASPER_RUNTIME_IMAGES'): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of (value ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [runtime, image] = pair.split('=', 2).map((s) => s?.trim());
    if (!runtime || !image) throw new ConfigError(variable, `"${pair}" is not name=image`);
    map[runtime] = image;
  }
  return map;
}

const ipAddress = z.union([z.ipv4(), z.ipv6()]);
const proxyAddress = z.union([
  z.ipv4(),
  z.ipv6(),
  z.cidrv4(),
  z.cidrv6(),
  z.enum(['loopback', 'linklocal', 'uniquelocal']),
]);
const firewallTarget = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()]);
const isProxyAddress = (item: string) => proxyAddress.safeParse(item).success;
/** `1.2.3.4`, `1.2.3.4:53`, `2001:db8::1`, `[2001:db8::1]:53`: what node's Resolver.setServers takes. */
function isDnsServer(item: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(item);
  const v4 = /^([\d.]+)(?::(\d{1,5}))?$/.exec(item);
  const [host, port] = bracketed ? [bracketed[1], bracketed[2]] : v4 ? [v4[1], v4[2]] : [item, undefined];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return false;
  return ipAddress.safeParse(host).success;
}
const dnsName = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** A comma-separated list, each item checked; undefined when the variable is unset. */
function parseList(
  variable: string,
  value: string | undefined,
  check: (item: string) => boolean,
  what: string,
): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean);
  const bad = items.find((item) => !check(item));
  if (bad !== undefined) throw new ConfigError(variable, `"${bad}" is not ${what}`);
  if (items.length === 0) throw new ConfigError(variable, `must list at least one ${what}`);
  return items;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  // An empty variable means "unset" (as `FOO= gasper up` intends), not zero or an empty name.
  const given = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  if (Boolean(e.GASPER_TLS_CERT) !== Boolean(e.GASPER_TLS_KEY)) {
    throw new ConfigError(
      e.GASPER_TLS_CERT ? 'GASPER_TLS_KEY' : 'GASPER_TLS_CERT',
      'GASPER_TLS_CERT and GASPER_TLS_KEY go together: set both, or neither',
    );
  }
  if (e.GASPER_PROXY_METRICS_PORT !== undefined && !e.GASPER_METRICS_TOKEN) {
    throw new ConfigError(
      'GASPER_PROXY_METRICS_PORT',
      'needs GASPER_METRICS_TOKEN: the proxy serves its metrics to that token only',
    );
  }
  return deepFreeze({
    stateDir: path.resolve(e.GASPER_STATE_DIR),
    api: { host: e.GASPER_API_HOST, port: e.GASPER_API_PORT, ...apiPublicUrl(e) },
    platform: platformConfig(e),
    proxy: {
      host: e.GASPER_PROXY_HOST,
      port: e.GASPER_PROXY_PORT,
      httpsPort: e.GASPER_HTTPS_PORT,
      httpsHost: e.GASPER_HTTPS_HOST ?? e.GASPER_PROXY_HOST,
      ...(e.GASPER_TLS_CERT
        ? { tlsCertFile: path.resolve(e.GASPER_TLS_CERT), tlsKeyFile: path.resolve(e.GASPER_TLS_KEY!) }
        : {}),
      ...(e.GASPER_PROXY_METRICS_PORT !== undefined
        ? { metricsPort: e.GASPER_PROXY_METRICS_PORT, metricsToken: e.GASPER_METRICS_TOKEN }
        : {}),
    },
    proxyProcesses: e.GASPER_PROXY_PROCESSES,
    ssh: { host: e.GASPER_SSH_HOST, port: e.GASPER_SSH_PORT },
    terminal: {
      host: e.GASPER_TERMINAL_HOST,
      port: e.GASPER_TERMINAL_PORT,
      ...(e.GASPER_TERMINAL_UPSTREAM ? { upstream: e.GASPER_TERMINAL_UPSTREAM } : {}),
    },
    domain: e.GASPER_DOMAIN,
    redisUrl: e.REDIS_URL,
    dockerHost: e.DOCKER_HOST,
    node: { id: e.GASPER_NODE_ID, address: e.GASPER_NODE_ADDRESS },
    networkPool: e.GASPER_NETWORK_POOL,
    appFirewall: e.GASPER_APP_FIREWALL,
    appFirewallDeny:
      parseList(
        'GASPER_APP_FIREWALL_DENY',
        e.GASPER_APP_FIREWALL_DENY,
        (item) => firewallTarget.safeParse(item).success,
        'an IPv4/IPv6 address or CIDR',
      ) ?? [],
    nodeDockerHost: e.GASPER_NODE_DOCKER_HOST,
    nodes: nodesConfig(e),
    adminToken: e.GASPER_ADMIN_TOKEN,
    secretKey: e.GASPER_SECRET_KEY,
    allowLocalRepos: e.GASPER_ALLOW_LOCAL_REPOS,
    extraCaCerts: e.GASPER_EXTRA_CA_CERTS ?? e.NODE_EXTRA_CA_CERTS,
    imagePrefix: e.GASPER_IMAGE_PREFIX,
    runtimeImages: parseImageMap(e.GASPER_RUNTIME_IMAGES),
    databases: {
      images: parseImageMap(e.GASPER_DATABASE_IMAGES, 'GASPER_DATABASE_IMAGES'),
      ports: { min: e.GASPER_DB_PORTS[0], max: e.GASPER_DB_PORTS[1] },
      readyTimeoutMs: e.GASPER_DB_READY_TIMEOUT_MS,
      backupMaxBytes: e.GASPER_DB_BACKUP_MAX_BYTES,
      backupsKept: e.GASPER_DB_BACKUPS_KEPT,
    },
    healthTimeoutMs: e.GASPER_HEALTH_TIMEOUT_MS,
    buildTimeoutMs: e.GASPER_BUILD_TIMEOUT_MS,
    runTimeoutS: e.GASPER_RUN_TIMEOUT_S,
    workerConcurrency: e.GASPER_WORKER_CONCURRENCY,
    jobsPerOwner: e.GASPER_JOBS_PER_OWNER,
    clone: { idleTimeoutMs: e.GASPER_CLONE_IDLE_TIMEOUT_MS, timeoutMs: e.GASPER_CLONE_TIMEOUT_MS },
    jobAttempts: e.GASPER_JOB_ATTEMPTS,
    limits: { authFailuresPerMinute: e.GASPER_AUTH_FAILURES_PER_MINUTE, changesPerMinute: e.GASPER_CHANGES_PER_MINUTE },
    webhookMaxBytes: e.GASPER_WEBHOOK_MAX_BYTES,
    domainsPerApp: e.GASPER_DOMAINS_PER_APP,
    domainsPerOwner: e.GASPER_DOMAINS_PER_OWNER,
    domainVerification: e.GASPER_DOMAIN_VERIFICATION,
    trustedProxies:
      parseList(
        'GASPER_TRUSTED_PROXIES',
        e.GASPER_TRUSTED_PROXIES,
        isProxyAddress,
        'an IP address, a CIDR, or loopback/linklocal/uniquelocal',
      ) ?? [],
    dns: dnsConfig(e),
    logLevel: e.GASPER_LOG_LEVEL,
    logLines: e.GASPER_LOG_LINES,
    logMaxBytes: e.GASPER_LOG_MAX_BYTES,
    logLineMaxBytes: e.GASPER_LOG_LINE_MAX_BYTES,
    logFollows: { perUser: e.GASPER_LOG_FOLLOWS_PER_USER, max: e.GASPER_LOG_FOLLOWS_MAX },
    metrics: { intervalMs: e.GASPER_METRICS_INTERVAL_MS, history: e.GASPER_METRICS_HISTORY },
    metricsToken: e.GASPER_METRICS_TOKEN,
    lifecycle: lifecycleOptionsFromEnv(e, (variable, reason) => new ConfigError(variable, reason)),
    acme: {
      enabled: e.GASPER_ACME,
      directoryUrl: e.GASPER_ACME_DIRECTORY,
      ...(e.GASPER_ACME_EMAIL ? { email: e.GASPER_ACME_EMAIL } : {}),
      ...(e.GASPER_ACME_CA_CERT ? { caCertFile: e.GASPER_ACME_CA_CERT } : {}),
      ...(e.GASPER_ACME_DNS_SERVERS
        ? {
            dnsServers: parseList(
              'GASPER_ACME_DNS_SERVERS',
              e.GASPER_ACME_DNS_SERVERS,
              isDnsServer,
              'an IP address, or IP:port ([IPv6]:port)',
            ),
          }
        : {}),
      renewalCheckMs: e.GASPER_ACME_RENEWAL_CHECK_MS,
    },
  });
}

const platformHostOf = (e: Env) => e.GASPER_PLATFORM_HOST ?? `gasper.${e.GASPER_DOMAIN}`;

function platformConfig(e: Env): Config['platform'] {
  const apiHost = ['0.0.0.0', '::', ''].includes(e.GASPER_API_HOST) ? '127.0.0.1' : e.GASPER_API_HOST;
  const upstream =
    e.GASPER_PLATFORM_UPSTREAM ??
    (e.GASPER_API_PORT ? `${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${e.GASPER_API_PORT}` : undefined);
  return { host: platformHostOf(e), ...(upstream ? { upstream } : {}) };
}

/** GASPER_API_URL, else the platform host over HTTPS once there is a platform certificate to serve it with. */
function apiPublicUrl(e: Env): { publicUrl?: string } {
  if (e.GASPER_API_URL) return { publicUrl: e.GASPER_API_URL };
  if (!e.GASPER_TLS_CERT || !e.GASPER_HTTPS_PORT) return {};
  const port = e.GASPER_HTTPS_PORT === 443 ? '' : `:${e.GASPER_HTTPS_PORT}`;
  return { publicUrl: `https://${platformHostOf(e)}${port}` };
}

function nodesConfig(e: Env): Config['nodes'] {
  // Two missed heartbeats at least, or a busy moment would mark a live node down.
  if (e.GASPER_NODE_TIMEOUT_MS < 2 * e.GASPER_NODE_HEARTBEAT_MS) {
    throw new ConfigError(
      'GASPER_NODE_TIMEOUT_MS',
      `must be at least twice GASPER_NODE_HEARTBEAT_MS (${e.GASPER_NODE_HEARTBEAT_MS})`,
    );
  }
  return {
    heartbeatMs: e.GASPER_NODE_HEARTBEAT_MS,
    timeoutMs: e.GASPER_NODE_TIMEOUT_MS,
    reconcileIntervalMs: e.GASPER_RECONCILE_INTERVAL_MS,
    stalledIntervalMs: e.GASPER_STALLED_INTERVAL_MS,
    cpuOvercommit: e.GASPER_CPU_OVERCOMMIT,
  };
}

function dnsConfig(e: Env): Config['dns'] {
  const isAddress = (item: string) => ipAddress.safeParse(item).success;
  const proxyAddresses = parseList(
    'GASPER_DNS_PROXY_ADDRESSES',
    e.GASPER_DNS_PROXY_ADDRESSES,
    isAddress,
    'an IPv4 or IPv6 address',
  ) ?? [e.GASPER_NODE_ADDRESS];
  return {
    host: e.GASPER_DNS_HOST,
    port: e.GASPER_DNS_PORT,
    proxyAddresses,
    nameservers: parseList(
      'GASPER_DNS_NAMESERVERS',
      e.GASPER_DNS_NAMESERVERS,
      (item) => dnsName.test(item.replace(/\.$/, '')),
      'a DNS name',
    )?.map((n) => n.replace(/\.$/, '')) ?? [`ns1.${e.GASPER_DOMAIN}`],
    nsAddresses:
      parseList('GASPER_DNS_NS_ADDRESSES', e.GASPER_DNS_NS_ADDRESSES, isAddress, 'an IPv4 or IPv6 address') ??
      proxyAddresses,
    ttl: e.GASPER_DNS_TTL,
  };
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) if (child && typeof child === 'object') deepFreeze(child);
  return Object.freeze(value);
}
