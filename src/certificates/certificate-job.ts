import { X509Certificate } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../core/log.ts';
import { keys } from '../core/keys.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { CertificateStore } from '../store/certificates.ts';
import { type DomainDocument, isVerified, verificationRecordName } from '../store/domain-document.ts';
import type { DomainStore } from '../store/domains.ts';
import { ensureAccountKey, rememberAccountUrl } from './acme-account.ts';
import { AcmeOrderError, orderCertificate, type ChallengeStore, type PollOptions } from './acme-order.ts';
import { checkDns, checkVerification } from './dns-check.ts';
import {
  issuerName,
  needsOrder,
  sameIncarnation,
  withCertificate,
  withFailure,
  withVerified,
  type Incarnation,
  type JobKind,
} from './domain-outcome.ts';
import type { CertificateFailure, RetryPlan } from './retry-plan.ts';

/** What one certificate job needs; built once by startCertificates. */
export interface CertificateJobContext {
  redis: Redis;
  secrets: SecretBox;
  domains: DomainStore;
  certificates: CertificateStore;
  log: Logger;
  /** Whether certificates are ordered (GASPER_ACME); off, jobs only verify ownership. */
  acme: boolean;
  directoryUrl: string;
  email?: string;
  /** Addresses the domain must resolve to (the proxy's public ones); empty: no DNS check. */
  proxyAddresses: readonly string[];
  /** Resolvers of the A/AAAA check and of the ownership TXT check (GASPER_ACME_DNS_SERVERS). */
  dnsServers?: readonly string[];
  poll: PollOptions;
  challengeTtlSeconds: number;
  renewalRetryMs: number;
  clock: () => number;
}

export type CertificateJobResult =
  | { result: 'issued' | 'renewed'; domain: string; issuer: string; notAfter: string; version: string }
  | { result: 'unchanged' | 'gone' | 'verified'; domain: string };

/** A failure already classified (DNS, the CA's problem, the network), for the retry plan. */
export class CertificateJobError extends Error {
  constructor(readonly failure: CertificateFailure) {
    super(failure.kind === 'acme' ? failure.detail : 'message' in failure ? failure.message : `${failure.kind} check`);
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
 * Verifies ownership when the domain awaits its proof (the TXT record; once it holds the token the
 * domain is announced, hence routed), then issues or renews its certificate: checks DNS, orders,
 * and stores the certificate (key sealed) with the document marked issued in one call, which
 * announces the new version to the proxies. Every write is guarded by the incarnation read at the
 * start: a domain removed and added again (by another owner, maybe) meanwhile is not touched.
 * Throws CertificateJobError on failure.
 */
export async function runCertificateJob(
  ctx: CertificateJobContext,
  kind: JobKind,
  domain: string,
  first: DomainDocument | undefined,
  report: StepReporter = async () => {},
): Promise<CertificateJobResult> {
  if (!first) return { result: 'gone', domain };
  const incarnation: Incarnation = { appUid: first.appUid, createdAt: first.createdAt };
  let doc = first;
  let verifiedNow = false;
  if (!isVerified(doc) && doc.verification) {
    const record = verificationRecordName(domain);
    await report(5, `checking that the TXT record ${record} holds the domain's verification token`);
    const problem = await checkVerification(record, doc.verification.token, ctx.dnsServers);
    if (problem) throw new CertificateJobError(problem);
    const stored = await ctx.domains.update(domain, (current) =>
      sameIncarnation(current, incarnation) ? withVerified(current, new Date(ctx.clock()), ctx.acme) : undefined,
    );
    if (!stored || !sameIncarnation(stored, incarnation)) return { result: 'gone', domain };
    doc = stored;
    verifiedNow = true;
    ctx.log.info({ domain, app: doc.app }, 'custom domain verified: routed from now on');
  }
  if (!ctx.acme) return { result: verifiedNow ? 'verified' : 'unchanged', domain };
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
  const renewed = doc.status === 'issued';
  let ours = true;
  // Certificate and document in one call, only onto the incarnation the order was placed for:
  // removed (its certificate went with it) or added again by someone else, nothing is written.
  const stored = await ctx.domains.update(
    domain,
    (current) => {
      ours = sameIncarnation(current, incarnation);
      return ours ? withCertificate(current, summary) : undefined;
    },
    () => ctx.certificates.sealed({ domain, certPem: ordered.certPem, keyPem: ordered.keyPem, ...summary }),
  );
  if (!stored || !ours) return { result: 'gone', domain };
  ctx.log.info({ domain, ms: Date.now() - started, notAfter: summary.notAfter }, 'certificate stored');
  return { result: renewed ? 'renewed' : 'issued', domain, ...summary };
}

/**
 * Records a failed attempt on the domain (pending/failed, or renewalError on an issued one), only
 * on the incarnation the job started with. Returns what the domain now says, for the job's log.
 */
export async function recordFailure(
  ctx: CertificateJobContext,
  domain: string,
  incarnation: Incarnation,
  plan: RetryPlan,
): Promise<string> {
  let recorded: DomainDocument | undefined;
  await ctx.domains.update(domain, (doc) => {
    recorded = sameIncarnation(doc, incarnation) ? withFailure(doc, plan, ctx.clock(), ctx.renewalRetryMs) : undefined;
    return recorded;
  });
  return (recorded?.status === 'issued' ? recorded.renewalError : recorded?.lastError) ?? plan.message;
}
