import { X509Certificate } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../core/log.ts';
import { keys } from '../core/keys.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { CertificateStore } from '../store/certificates.ts';
import type { DomainStore } from '../store/domains.ts';
import { ensureAccountKey, rememberAccountUrl } from './acme-account.ts';
import { AcmeOrderError, orderCertificate, type ChallengeStore, type PollOptions } from './acme-order.ts';
import { checkDns } from './dns-check.ts';
import { issuerName, needsOrder, withCertificate, withFailure, type JobKind } from './domain-outcome.ts';
import type { CertificateFailure, RetryPlan } from './retry-plan.ts';

/** What one certificate job needs; built once by startCertificates. */
export interface CertificateJobContext {
  redis: Redis;
  secrets: SecretBox;
  domains: DomainStore;
  certificates: CertificateStore;
  log: Logger;
  directoryUrl: string;
  email?: string;
  /** Addresses the domain must resolve to (the proxy's public ones); empty: no DNS check. */
  proxyAddresses: readonly string[];
  dnsServers?: readonly string[];
  poll: PollOptions;
  challengeTtlSeconds: number;
  renewalRetryMs: number;
  clock: () => number;
}

export type CertificateJobResult =
  | { result: 'issued' | 'renewed'; domain: string; issuer: string; notAfter: string; version: string }
  | { result: 'unchanged' | 'gone'; domain: string };

/** A failure already classified (DNS, the CA's problem, the network), for the retry plan. */
export class CertificateJobError extends Error {
  constructor(readonly failure: CertificateFailure) {
    super(failure.kind === 'acme' ? failure.detail : 'message' in failure ? failure.message : `DNS ${failure.kind}`);
    this.name = 'CertificateJobError';
  }
}

/** HTTP-01 key authorizations in Redis, where every proxy instance answers them; they expire. */
function redisChallenges(redis: Redis, ttlSeconds: number): ChallengeStore {
  return {
    put: async (token, keyAuthorization) => {
      await redis.set(keys.acmeChallenge(token), keyAuthorization, 'EX', ttlSeconds);
    },
    remove: async (token) => {
      await redis.del(keys.acmeChallenge(token));
    },
  };
}

/** Where a job reports its steps (BullMQ's job log and progress, shown by `GET /jobs/:id`). */
export type StepReporter = (percent: number, step: string) => Promise<void>;

/**
 * Issues or renews one domain's certificate: reads the document (reconcile: the job carries only
 * the name), checks DNS, orders, stores the certificate (key sealed), then marks the domain issued,
 * which announces the new version to the proxies. Throws CertificateJobError on failure.
 */
export async function runCertificateJob(
  ctx: CertificateJobContext,
  kind: JobKind,
  domain: string,
  report: StepReporter = async () => {},
): Promise<CertificateJobResult> {
  const doc = await ctx.domains.get(domain);
  if (!doc) return { result: 'gone', domain };
  if (!needsOrder(kind, doc, ctx.clock())) return { result: 'unchanged', domain };

  if (ctx.proxyAddresses.length > 0) {
    await report(10, `checking that ${domain} resolves to ${ctx.proxyAddresses.join(', ')}`);
    const problem = await checkDns(domain, ctx.proxyAddresses, ctx.dnsServers);
    if (problem) throw new CertificateJobError(problem);
  }
  await report(30, `ordering a certificate from ${ctx.directoryUrl} (HTTP-01)`);
  const account = await ensureAccountKey(ctx.redis, ctx.secrets, ctx.directoryUrl);
  const started = Date.now();
  const ordered = await orderCertificate(
    domain,
    { directoryUrl: ctx.directoryUrl, accountKey: account.keyPem, accountUrl: account.url, email: ctx.email },
    redisChallenges(ctx.redis, ctx.challengeTtlSeconds),
    ctx.poll,
  ).catch((err: unknown) => {
    throw err instanceof AcmeOrderError ? new CertificateJobError(err.failure) : err;
  });
  if (ordered.accountUrl !== account.url) await rememberAccountUrl(ctx.redis, ctx.directoryUrl, ordered.accountUrl);

  const leaf = new X509Certificate(ordered.certPem);
  const summary = {
    issuer: issuerName(leaf.issuer),
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: new Date(leaf.validTo).toISOString(),
    // The fingerprint changes with every certificate, and says which one a proxy serves.
    version: leaf.fingerprint256.replaceAll(':', '').slice(0, 16).toLowerCase(),
  };
  await report(90, `storing the certificate from ${summary.issuer}, valid until ${summary.notAfter}`);
  await ctx.certificates.put({ domain, certPem: ordered.certPem, keyPem: ordered.keyPem, ...summary });
  const renewed = doc.status === 'issued';
  const stored = await ctx.domains.update(domain, (current) => withCertificate(current, summary));
  if (!stored) {
    // Removed while the order ran: its certificate must not outlive it.
    await ctx.certificates.remove(domain);
    return { result: 'gone', domain };
  }
  ctx.log.info({ domain, ms: Date.now() - started, notAfter: summary.notAfter }, 'certificate stored');
  return { result: renewed ? 'renewed' : 'issued', domain, ...summary };
}

/** Records a failed attempt on the domain (pending/failed, or renewalError on an issued one). */
export async function recordFailure(ctx: CertificateJobContext, domain: string, plan: RetryPlan): Promise<void> {
  await ctx.domains.update(domain, (doc) => withFailure(doc, plan, ctx.clock(), ctx.renewalRetryMs));
}
