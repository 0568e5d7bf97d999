import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/log.ts';
import type { ResourcePolicy } from '../core/resources.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Enqueuer } from '../jobs/enqueue.ts';
import type { NodeQueues } from '../jobs/queues.ts';
import type { AppStore } from '../store/apps.ts';
import type { NodeStore } from '../store/nodes.ts';
import type { RateLimiter } from '../store/rate-limits.ts';
import type { TokenStore } from '../store/tokens.ts';
import type { UserStore } from '../store/users.ts';

export interface ApiOptions {
  domain: string;
  /** Public port of the proxy, for the URLs the API hands out. */
  proxyPort: number;
  /**
   * The proxy's public HTTPS port, set when a platform certificate is configured
   * (GASPER_TLS_CERT in the API's environment): apps' URLs are then `https://<app>.<domain>[:port]`.
   */
  appsHttpsPort?: number;
  allowLocalRepos: boolean;
  /** Nodes silent for longer are not placed on. */
  nodeTimeoutMs: number;
  /** CPU limits placed per core of a node (GASPER_CPU_OVERCOMMIT); memory is never over-committed. Default 8. */
  cpuOvercommit?: number;
  /** How often the API checks node heartbeats (node-monitor.ts). Default: timeout / 3, at most 5 s. */
  nodeCheckMs?: number;
  /** The API's public base URL, for the webhook URLs it hands out. Default: the request's origin. */
  publicUrl?: string;
  /** Largest accepted request body. Default 256 KiB. */
  bodyLimit?: string;
  /** Custom domains one app may have (GASPER_DOMAINS_PER_APP). Default 20. */
  domainsPerApp?: number;
  /** Custom domains one user may have over all their apps (GASPER_DOMAINS_PER_OWNER; admins: no limit). Default 100. */
  domainsPerOwner?: number;
  /**
   * Whether a custom domain waits for its TXT ownership proof before it is routed
   * (GASPER_DOMAIN_VERIFICATION). Default on.
   */
  domainVerification?: boolean;
  /** Whether certificates of custom domains are ordered automatically (GASPER_ACME). Default on. */
  acme?: boolean;
  /** The platform's own host (GASPER_PLATFORM_HOST): never a custom domain. */
  platformHost?: string;
  /** Where `<app>.<domain>` resolves (GASPER_DNS_PROXY_ADDRESSES): the A/AAAA records a custom domain needs. */
  proxyAddresses?: readonly string[];
  /** Largest GitHub webhook body read (GASPER_WEBHOOK_MAX_BYTES). Default 2 MiB. */
  webhookMaxBytes?: number;
  /** Failed authentications per client address and minute before 429s. */
  authFailuresPerMinute: number;
  /**
   * Reverse proxies whose `X-Forwarded-For`/`-Proto` are believed (addresses, CIDRs, or
   * `loopback`/`linklocal`/`uniquelocal`), as express's `trust proxy`. Default none: the client
   * address is the socket's peer, which no header can change.
   */
  trustedProxies?: readonly string[];
  /** Requests that change something (and so start jobs), per user and minute. */
  changesPerMinute: number;
  /** Longest wait of one blocking read of a log follow before a keep-alive. Default 15 s. */
  logFollowBlockMs?: number;
  /** Log follows one user may hold open on this process (GASPER_LOG_FOLLOWS_PER_USER). Default 10. */
  logFollowsPerUser?: number;
  /** Log follows open on this process in all (GASPER_LOG_FOLLOWS_MAX). Default 500. */
  logFollowsMax?: number;
  /** A token that may read `GET /metrics` only (the admin token always may). */
  metricsToken?: string;
  /** Attempts for jobs that fail transiently (database jobs). Default 3. */
  jobAttempts?: number;
  /** Host ports databases are published on, per node. Default 15000–19999. */
  databasePorts?: { min: number; max: number };
  /** Default and maximum instances, CPU and memory (GASPER_MAX_*). Default core/resources.ts's. */
  resources?: ResourcePolicy;
  /**
   * The SSH service's web-terminal listener (`host:port`, GASPER_TERMINAL_UPSTREAM) the API
   * forwards `/terminal` WebSocket upgrades to. Unset: those upgrades are refused.
   */
  terminalUpstream?: string;
}

/** What the HTTP layer needs; all of it is Redis-backed, none of it talks to Docker. */
export interface ApiDeps {
  redis: Redis;
  apps: AppStore;
  nodes: NodeStore;
  users: UserStore;
  tokens: TokenStore;
  limits: { authFailures: RateLimiter; changes: RateLimiter };
  queues: NodeQueues;
  enqueue: Enqueuer;
  secrets: SecretBox;
  log: Logger;
  options: ApiOptions;
  /** Aborted when the API closes: ends long-lived responses (log follows). */
  shutdown?: AbortSignal;
  /** This process's metrics (the proxy's, when it runs here), served with the API's at /metrics. */
  processMetrics?: Registry;
}
