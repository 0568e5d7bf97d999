import fs from 'node:fs/promises';
import path from 'node:path';
import { startApi, type ApiHandle } from './api/index.ts';
import { startCertificates } from './certificates/index.ts';
import { startDns, type DnsHandle } from './dns/index.ts';
import { ensureAdminToken } from './api/auth.ts';
import type { Config } from './core/config.ts';
import { createLogger, type Logger } from './core/log.ts';
import { createProcessMetrics } from './core/process-metrics.ts';
import { connectRedis, startEmbeddedRedis } from './core/redis.ts';
import { createSecretBox, loadSecretKey, type SecretBox } from './core/secret-box.ts';
import { checkDocker, checkRedis, ensureSharedSecretKey } from './preflight.ts';
import { startProxyProcesses, type ProxyProcessesHandle } from './proxy/processes.ts';
import { startSsh, type SshHandle } from './ssh/index.ts';
import type { NodeWorkerOptions } from './workers/context.ts';
import { startWorker } from './workers/index.ts';

export type ServiceName = 'api' | 'worker' | 'proxy' | 'ssh' | 'dns';
export const allServices: readonly ServiceName[] = ['worker', 'proxy', 'ssh', 'dns', 'api'];

export interface PlatformHandle {
  redisUrl: string;
  api?: ApiHandle;
  proxy?: ProxyProcessesHandle;
  ssh?: SshHandle;
  dns?: DnsHandle;
  /** Set when this start generated the admin token: shown once, stored only as a hash. */
  generatedAdminToken?: string;
  close(): Promise<void>;
}

/**
 * Node heartbeat period and the silence after which a node is down: defaults of GASPER_NODE_HEARTBEAT_MS and
 * GASPER_NODE_TIMEOUT_MS.
 */
export const heartbeatMs = 5_000;
export const nodeTimeoutMs = 30_000;

/**
 * Starts the given services in one process, in dependency order: Redis (a private one under
 * the state dir unless REDIS_URL is set), the node worker, the proxy, the API. Closing stops
 * them in reverse order; every step runs even if an earlier one fails.
 */
export async function startPlatform(
  config: Readonly<Config>,
  services: readonly ServiceName[] = allServices,
  log: Logger = createLogger(config.logLevel),
): Promise<PlatformHandle> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closeOne of closers.reverse().splice(0)) {
      await closeOne().catch((err) => log.error({ err }, 'shutdown step failed'));
    }
  };
  try {
    await fs.mkdir(config.stateDir, { recursive: true });
    let redisUrl = config.redisUrl;
    if (!redisUrl) {
      const embedded = await startEmbeddedRedis(path.join(config.stateDir, 'redis'));
      closers.push(() => embedded.close());
      redisUrl = embedded.url;
      log.info({ url: redisUrl }, 'started private redis-server (set REDIS_URL to use another)');
    }
    await checkRedis(redisUrl);
    if (services.includes('worker') || services.includes('ssh')) await checkDocker(config.dockerHost);
    // API and worker seal and open secrets, and create the key if there is none. The proxy opens
    // custom domains' certificate keys with it: beside them it uses theirs, alone only a key it is
    // given (GASPER_SECRET_KEY), never one of its own. SSH opens app env for its one-off
    // containers (`<app>.run`) likewise: with the worker's key, or alone one it is given; without
    // one it refuses such sessions. DNS neither needs nor creates one.
    let secrets: SecretBox | undefined;
    let secretKey: string | undefined;
    const holdsKey = services.includes('api') || services.includes('worker');
    if (holdsKey || ((services.includes('proxy') || services.includes('ssh')) && config.secretKey)) {
      secretKey = holdsKey ? await loadSecretKey(config.stateDir, config.secretKey) : config.secretKey!;
      secrets = createSecretBox(secretKey);
      const redis = connectRedis(redisUrl);
      try {
        await ensureSharedSecretKey(redis, secrets);
      } finally {
        redis.disconnect();
      }
    }
    const handle: PlatformHandle = { redisUrl, close };
    const metrics = createProcessMetrics();

    if (services.includes('api')) {
      const redis = connectRedis(redisUrl);
      try {
        handle.generatedAdminToken = await ensureAdminToken(redis, config.adminToken);
      } finally {
        redis.disconnect();
      }
    }
    const nodeWorker = nodeWorkerOptions(config);
    if (services.includes('worker')) {
      const worker = await startWorker(
        {
          ...nodeWorker,
          redisUrl,
          stateDir: config.stateDir,
          dockerHost: config.dockerHost,
          concurrency: config.workerConcurrency,
          heartbeatMs: config.nodes.heartbeatMs,
          advertisedDockerHost: config.nodeDockerHost,
          jobsPerOwner: config.jobsPerOwner,
          reconcileIntervalMs: config.nodes.reconcileIntervalMs,
          stalledIntervalMs: config.nodes.stalledIntervalMs,
          observability: {
            logLines: config.logLines,
            logMaxBytes: config.logMaxBytes,
            logLineMaxBytes: config.logLineMaxBytes,
            metricsIntervalMs: config.metrics.intervalMs,
            metricsHistory: config.metrics.history,
          },
          databases: {
            databaseImages: config.databases.images,
            readyTimeoutMs: config.databases.readyTimeoutMs,
            backupMaxBytes: config.databases.backupMaxBytes,
            backupsKept: config.databases.backupsKept,
          },
          appFirewall: config.appFirewall,
          firewallDeny: config.appFirewallDeny,
          // The proxy's public port stays open to apps, as it is to anyone (0: a free port, unknown yet).
          firewallAllowPorts: [config.proxy.port, config.proxy.httpsPort].filter((p) => p > 0),
        },
        { log, secrets: secrets! },
      );
      closers.push(() => worker.close());
      // Every node takes certificate jobs from the one cluster-wide queue (jobs/certificate-jobs.ts).
      // With ACME off the service still runs: its jobs verify domain ownership (the TXT record).
      {
        const certificates = await startCertificates(
          {
            redisUrl,
            acme: config.acme.enabled,
            directoryUrl: config.acme.directoryUrl,
            ...(config.acme.email ? { email: config.acme.email } : {}),
            ...(config.acme.caCertFile ? { caCertFile: config.acme.caCertFile } : {}),
            ...(config.acme.dnsServers ? { dnsServers: config.acme.dnsServers } : {}),
            proxyAddresses: config.dns.proxyAddresses,
            renewalCheckMs: config.acme.renewalCheckMs,
          },
          { log, secrets: secrets! },
        );
        closers.push(() => certificates.close());
      }
    }
    if (services.includes('proxy')) {
      const proxy = await startProxyProcesses(
        {
          proxy: {
            ...config.proxy,
            domain: config.domain,
            redisUrl,
            secretKey,
            platformHost: config.platform.host,
            platformUpstream: config.platform.upstream,
          },
          processes: config.proxyProcesses,
        },
        { log, metrics },
      );
      closers.push(() => proxy.close());
      handle.proxy = proxy;
    }
    if (services.includes('ssh')) {
      const ssh = await startSsh(
        {
          ...config.ssh,
          stateDir: config.stateDir,
          redisUrl,
          nodeId: config.node.id,
          dockerHost: config.dockerHost,
          terminal: { host: config.terminal.host, port: config.terminal.port },
          ...(secrets ? { runs: { secrets, worker: nodeWorker } } : {}),
        },
        { log },
      );
      closers.push(() => ssh.close());
      handle.ssh = ssh;
    }
    if (services.includes('dns')) {
      const { dns: d } = config;
      const dns = await startDns(
        {
          host: d.host,
          port: d.port,
          redisUrl,
          apex: config.domain,
          ttl: d.ttl,
          nameservers: d.nameservers,
          proxyAddresses: d.proxyAddresses,
          nsAddresses: d.nsAddresses,
        },
        { log },
      );
      closers.push(() => dns.close());
      handle.dns = dns;
    }
    if (services.includes('api')) {
      const api = await startApi(
        {
          ...config.api,
          redisUrl,
          domain: config.domain,
          proxyPort: handle.proxy?.port ?? config.proxy.port,
          // With the platform certificate (*.<domain>), apps are announced at their https URL.
          ...(config.proxy.tlsCertFile ? { appsHttpsPort: handle.proxy?.httpsPort ?? config.proxy.httpsPort } : {}),
          allowLocalRepos: config.allowLocalRepos,
          nodeTimeoutMs: config.nodes.timeoutMs,
          cpuOvercommit: config.nodes.cpuOvercommit,
          jobAttempts: config.jobAttempts,
          authFailuresPerMinute: config.limits.authFailuresPerMinute,
          changesPerMinute: config.limits.changesPerMinute,
          trustedProxies: config.trustedProxies,
          webhookMaxBytes: config.webhookMaxBytes,
          domainsPerApp: config.domainsPerApp,
          domainsPerOwner: config.domainsPerOwner,
          domainVerification: config.domainVerification,
          acme: config.acme.enabled,
          platformHost: config.platform.host,
          proxyAddresses: config.dns.proxyAddresses,
          logFollowsPerUser: config.logFollows.perUser,
          logFollowsMax: config.logFollows.max,
          metricsToken: config.metricsToken,
          databasePorts: config.databases.ports,
          resources: config.lifecycle.resources,
          // The SSH service of this process, on the port it bound (0 in tests), else the configured one.
          terminalUpstream: config.terminal.upstream ?? `127.0.0.1:${handle.ssh?.terminalPort ?? config.terminal.port}`,
        },
        { log, secrets: secrets!, processMetrics: metrics },
      );
      closers.push(() => api.close());
      handle.api = api;
    }
    return handle;
  } catch (err) {
    await close();
    throw err;
  }
}

/** What this node's app containers are made with: the worker's, and the SSH service's one-off ones (`<app>.run`). */
export function nodeWorkerOptions(config: Readonly<Config>): NodeWorkerOptions {
  return {
    nodeId: config.node.id,
    nodeAddress: config.node.address,
    allowLocalRepos: config.allowLocalRepos,
    extraCaCerts: config.extraCaCerts,
    imagePrefix: config.imagePrefix,
    runtimeImages: config.runtimeImages,
    healthTimeoutMs: config.healthTimeoutMs,
    buildTimeoutMs: config.buildTimeoutMs,
    runTimeoutMs: config.runTimeoutS * 1000,
    keepReleases: config.lifecycle.keepReleases,
    clone: config.clone,
    lifecycle: config.lifecycle,
    networkPool: config.networkPool,
  };
}
