import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';
import type { EnqueuedJob } from './enqueue.ts';
import { jobRetentionSeconds, type NodeQueues } from './queues.ts';

/**
 * The one cluster-wide queue of certificate jobs. Unlike app jobs it is not per node: any node can
 * run an issuance, because the HTTP-01 key authorizations it creates are written to Redis
 * (keys.acmeChallenge) and every proxy instance answers them, whichever one the CA reaches; the
 * certificate it gets is stored in Redis too, and every proxy serves it. BullMQ hands each job to
 * one of the nodes' workers.
 */
export const certificatesQueueName = 'certificates';

const target = { domain: z.string().min(1) };

/** Get a first certificate for a domain (added, or asked again after a failure). */
export const issueCertificateJob = { name: 'certificate-issue', schema: z.object(target) } as const;
/** Replace a domain's certificate before it expires; a failure keeps the old one served. */
export const renewCertificateJob = { name: 'certificate-renew', schema: z.object(target) } as const;
/** The repeatable sweep (once per cluster) that enqueues a renewal for every certificate due. */
export const renewalSweepJob = { name: 'certificate-renewal-sweep', schema: z.object({}) } as const;

export type CertificateJobData = z.infer<typeof issueCertificateJob.schema>;
export type CertificateJobKind = 'issue' | 'renew';

export const certificateJobs = { issue: issueCertificateJob, renew: renewCertificateJob } as const;

/** `cert-issue-shop.example.com`: one job per domain and kind at a time (a domain has no `:`). */
export function certificateJobId(kind: CertificateJobKind, domain: string): string {
  return `cert-${kind}-${domain}`;
}

export interface CertificateJobRequest {
  kind: CertificateJobKind;
  domain: string;
  /** Who may see the job with `GET /jobs/:id` (with admins): the domain's owner. */
  owner?: string;
  /** Start no sooner than this many ms from now (a renewal held back by a CA rate limit). */
  delayMs?: number;
}

/**
 * Certificate jobs retry on their own plan (src/certificates/retry-plan.ts, through the worker's
 * backoff strategy named here); `attempts` bounds transient failures only, a rate limit delays the
 * job without using one.
 */
export const certificateBackoffType = 'certificate';
export const certificateJobAttempts = 6;

/**
 * Enqueues an issuance or a renewal with a fixed id: asking while one is waiting or running adds
 * nothing; asking after the last one finished (issued, or failed for good) runs it again, as
 * "try once more" means. Records the job's queue and owner so `GET /jobs/:id` finds it.
 */
export async function enqueueCertificate(
  redis: Redis,
  queues: NodeQueues,
  request: CertificateJobRequest,
): Promise<EnqueuedJob> {
  const { kind, domain, owner, delayMs } = request;
  const id = certificateJobId(kind, domain);
  const queue = queues.byName(certificatesQueueName);
  const data = certificateJobs[kind].schema.parse({ domain });
  const live = await dropFinished(queue, id);
  const index = redis.multi().set(keys.jobQueue(id), queue.name, 'EX', jobRetentionSeconds);
  // A job still waiting or running keeps the owner it was queued for (the domain may have been
  // removed and added by someone else meanwhile): the new owner sees the next one.
  if (owner && live) index.set(keys.jobOwner(id), owner, 'EX', jobRetentionSeconds, 'NX');
  else if (owner) index.set(keys.jobOwner(id), owner, 'EX', jobRetentionSeconds);
  await index.exec();
  await queue.add(certificateJobs[kind].name, data, {
    jobId: id,
    attempts: certificateJobAttempts,
    backoff: { type: certificateBackoffType },
    ...(delayMs && delayMs > 0 ? { delay: delayMs } : {}),
    removeOnComplete: { age: 24 * 3600, count: 5000 },
    removeOnFail: { age: jobRetentionSeconds, count: 5000 },
  });
  return { id, queue: queue.name };
}

/** A finished job would swallow the new one (same id): remove it first. True when one is still live. */
async function dropFinished(queue: Queue, id: string): Promise<boolean> {
  const existing: Job | undefined = await queue.getJob(id);
  if (!existing) return false;
  const state = await existing.getState();
  if (state === 'completed' || state === 'failed') {
    await existing.remove().catch(() => undefined);
    return false;
  }
  return state !== 'unknown';
}
