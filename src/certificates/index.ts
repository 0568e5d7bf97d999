import fs from 'node:fs/promises';
import { DelayedError, type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from '../core/log.ts';
import { bullPrefix } from '../core/keys.ts';
import { connectRedis } from '../core/redis.ts';
import type { SecretBox } from '../core/secret-box.ts';
import {
  certificateBackoffType,
  certificatesQueueName,
  enqueueCertificate,
  issueCertificateJob,
  renewalSweepJob,
  renewCertificateJob,
} from '../jobs/certificate-jobs.ts';
import { NodeQueues } from '../jobs/queues.ts';
import { CertificateStore } from '../store/certificates.ts';
import { DomainStore } from '../store/domains.ts';
import type { PollOptions } from './acme-order.ts';
import { trustAcmeCa } from './acme-order.ts';
import {
  CertificateJobError,
  type CertificateJobContext,
  type CertificateJobResult,
  recordFailure,
  runCertificateJob,
} from './certificate-job.ts';
import type { JobKind } from './domain-outcome.ts';
import { planSweep } from './renewal-plan.ts';
import { planRetry } from './retry-plan.ts';

/**
 * Automatic certificates (ACME, RFC 8555, HTTP-01): runs the cluster-wide `certificates` queue's
 * jobs on this node (every node runs this service; BullMQ hands each job to one of them) and keeps
 * the renewal sweep scheduled (one job scheduler per cluster, whoever upserts it).
 */
export interface CertificatesOptions {
  redisUrl: string;
  /**
   * Whether certificates are ordered (GASPER_ACME). Off, the service still runs the jobs that
   * verify domain ownership (the TXT record), so that verified domains get routed. Default on.
   */
  acme?: boolean;
  /** ACME directory URL (GASPER_ACME_DIRECTORY). */
  directoryUrl: string;
  /** Contact for the CA's expiry and policy mail (GASPER_ACME_EMAIL). */
  email?: string;
  /** A PEM file of a CA to trust for the directory's TLS (GASPER_ACME_CA_CERT): a private CA, pebble. */
  caCertFile?: string;
  /**
   * Addresses a domain must resolve to before an order is placed (the proxy's public ones,
   * GASPER_DNS_PROXY_ADDRESSES). Empty: no DNS check.
   */
  proxyAddresses: readonly string[];
  /** DNS servers for that check (`host:port`). Default: the system's. */
  dnsServers?: readonly string[];
  /** How often the renewal sweep runs (GASPER_ACME_RENEWAL_CHECK_MS). Default 6 h. */
  renewalCheckMs?: number;
  /** Certificate jobs this node runs at once. Default 2. */
  concurrency?: number;
  /**
   * Retry delays: first (doubling) and longest, the wait after a rate limit without Retry-After, a failed
   * renewal's.
   */
  retry?: { baseDelayMs?: number; maxDelayMs?: number; rateLimitWaitMs?: number; renewalRetryMs?: number };
  /** Polling of pending challenges and orders. Default 10 attempts from 1 s to 10 s. */
  poll?: PollOptions;
  /** Lifetime of a stored HTTP-01 key authorization. Default 1 h. */
  challengeTtlSeconds?: number;
  /**
   * A pending domain untouched for this long has lost its job (a worker killed, say): the sweep
   * enqueues it again. Default 30 min.
   */
  stalledMs?: number;
  /** The clock renewals are decided by (tests move it forward). Default Date.now. */
  clock?: () => number;
}

export interface CertificatesHandle {
  /** Runs the sweep now (renewals due, failed domains to try again); resolves to the domains it enqueued a job for. */
  sweep(): Promise<string[]>;
  close(): Promise<void>;
}

const defaults = {
  renewalCheckMs: 6 * 3600_000,
  concurrency: 2,
  baseDelayMs: 30_000,
  maxDelayMs: 3600_000,
  rateLimitWaitMs: 3600_000,
  renewalRetryMs: 3600_000,
  poll: { attempts: 10, minMs: 1000, maxMs: 10_000 },
  challengeTtlSeconds: 3600,
  stalledMs: 30 * 60_000,
};

/** A retry with the plan's delay: the worker's backoff strategy reads it. */
class RetryLater extends Error {
  constructor(
    readonly delayMs: number,
    message: string,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

export async function startCertificates(
  options: CertificatesOptions,
  deps: { log: Logger; secrets: SecretBox },
): Promise<CertificatesHandle> {
  const log = deps.log.child({ service: 'certificates' });
  if (options.caCertFile) {
    const pem = await fs.readFile(options.caCertFile, 'utf8').catch((err: Error) => {
      throw new Error(`GASPER_ACME_CA_CERT: cannot read ${options.caCertFile}: ${err.message}`);
    });
    trustAcmeCa(pem);
  }
  const retry = { ...defaults, ...options.retry };
  const clock = options.clock ?? Date.now;
  const redis = connectRedis(options.redisUrl);
  const workerConnection = connectRedis(options.redisUrl);
  const queues = new NodeQueues(redis);
  const ctx: CertificateJobContext = {
    redis,
    secrets: deps.secrets,
    domains: new DomainStore(redis),
    certificates: new CertificateStore(redis, deps.secrets),
    log,
    acme: options.acme ?? true,
    directoryUrl: options.directoryUrl,
    ...(options.email ? { email: options.email } : {}),
    proxyAddresses: options.proxyAddresses,
    ...(options.dnsServers ? { dnsServers: options.dnsServers } : {}),
    poll: options.poll ?? defaults.poll,
    challengeTtlSeconds: options.challengeTtlSeconds ?? defaults.challengeTtlSeconds,
    renewalRetryMs: retry.renewalRetryMs,
    clock,
  };

  const sweep = async (): Promise<string[]> => {
    const docs = await ctx.domains.list();
    const owners = new Map(docs.map((d) => [d.domain, d.owner]));
    const items = planSweep(docs, clock(), { acme: ctx.acme, stalledMs: options.stalledMs ?? defaults.stalledMs });
    await Promise.all(
      items.map(({ domain, kind }) => enqueueCertificate(redis, queues, { kind, domain, owner: owners.get(domain) })),
    );
    if (items.length) log.info({ items }, 'certificate jobs enqueued by the sweep');
    return items.map((i) => i.domain);
  };

  const runOrder = async (job: Job, token: string | undefined, kind: JobKind): Promise<CertificateJobResult> => {
    const { domain } = (kind === 'issue' ? issueCertificateJob : renewCertificateJob).schema.parse(job.data);
    const doc = await ctx.domains.get(domain);
    try {
      return await runCertificateJob(ctx, kind, domain, doc, async (percent, step) => {
        await Promise.all([job.updateProgress({ percent, step }), job.log(step)]);
      });
    } catch (err) {
      const failure =
        err instanceof CertificateJobError
          ? err.failure
          : { kind: 'internal' as const, message: (err as Error).message };
      const plan = planRetry(
        domain,
        failure,
        { attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? 1, ...retry },
        clock(),
      );
      const said = doc ? await recordFailure(ctx, domain, doc, plan) : plan.message;
      await job.log(said).catch(() => undefined);
      log.warn({ domain, kind, action: plan.action, reason: said }, 'certificate attempt failed');
      if (plan.action === 'wait') {
        // A rate limit is not the job's fault: wait without spending an attempt.
        await job.moveToDelayed(plan.until, token);
        throw new DelayedError(plan.message);
      }
      if (plan.action === 'give-up') throw new UnrecoverableError(plan.message);
      throw new RetryLater(plan.delayMs, plan.message);
    }
  };

  const worker = new Worker(
    certificatesQueueName,
    async (job: Job, token?: string) => {
      if (job.name === renewalSweepJob.name) return { queued: await sweep() };
      if (job.name === issueCertificateJob.name) return runOrder(job, token, 'issue');
      if (job.name === renewCertificateJob.name) return runOrder(job, token, 'renew');
      throw new UnrecoverableError(`unknown certificate job ${job.name}`);
    },
    {
      connection: workerConnection,
      prefix: bullPrefix,
      concurrency: options.concurrency ?? defaults.concurrency,
      settings: {
        backoffStrategy: (_attempts, type, err) =>
          type === certificateBackoffType && err instanceof RetryLater ? err.delayMs : retry.baseDelayMs,
      },
    },
  );
  worker.on('error', (err) => log.error({ err }, 'certificates worker error'));

  const scheduler = new Queue(certificatesQueueName, { connection: redis, prefix: bullPrefix });
  try {
    await scheduler.upsertJobScheduler(
      'certificate-renewal',
      { every: options.renewalCheckMs ?? defaults.renewalCheckMs },
      {
        name: renewalSweepJob.name,
        data: {},
        opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 50 } },
      },
    );
    await worker.waitUntilReady();
  } catch (err) {
    await Promise.allSettled([worker.close(), scheduler.close(), queues.close()]);
    redis.disconnect();
    workerConnection.disconnect();
    throw err;
  }
  log.info({ directory: options.directoryUrl }, 'certificates service started');

  let closed: Promise<void> | undefined;
  return {
    sweep,
    close() {
      closed ??= (async () => {
        await Promise.allSettled([worker.close(), scheduler.close(), queues.close()]);
        redis.disconnect();
        workerConnection.disconnect();
      })();
      return closed;
    },
  };
}
