import type { CertificateSummary, DomainDocument } from '../store/domain-document.ts';
import { isRenewalDue } from './renewal-plan.ts';
import type { RetryPlan } from './retry-plan.ts';

/**
 * How a certificate job changes a domain document: pure (test/certificates/domain-outcome.unit.test.ts),
 * applied through DomainStore.update, which publishes `domain.state` in the same call when the
 * certificate's version changed.
 *
 *   pending ──issued──▶ issued ──renewed──▶ issued (new version, renewalError cleared)
 *      │  ▲                │
 *   gave up │ sweep, after   renewal failed: issued, renewalError set, old certificate served
 *      ▼  │  nextAttemptAt
 *    failed
 */

export type JobKind = 'issue' | 'renew';

/**
 * Which document a job acts on: a domain removed and added again (perhaps by another owner) has
 * another createdAt, or another appUid, and a job for the old one must leave it alone.
 */
export interface Incarnation {
  appUid: string;
  createdAt: string;
}

export function sameIncarnation(doc: DomainDocument, incarnation: Incarnation): boolean {
  return doc.appUid === incarnation.appUid && doc.createdAt === incarnation.createdAt;
}

/** What a domain says while GASPER_ACME is off: no job will ever move it from `pending`. */
export const acmeOffNotice =
  'automatic certificates are off on this platform (GASPER_ACME): the domain is served over HTTP, and over HTTPS only with a certificate an administrator provides';

/**
 * The TXT record held the token: the domain may be routed (DomainStore.update announces it now).
 * Errors and backoff of the verification attempts are forgotten; with ACME off the domain says
 * no certificate will come. Undefined when it was verified already (nothing to write).
 */
export function withVerified(doc: DomainDocument, now: Date, acme: boolean): DomainDocument | undefined {
  if (!doc.verification || doc.verification.verifiedAt) return undefined;
  const { lastError: _l, nextAttemptAt: _n, ...rest } = doc;
  return {
    ...rest,
    verification: { ...doc.verification, verifiedAt: now.toISOString() },
    status: 'pending',
    attempts: 0,
    ...(acme ? {} : { lastError: acmeOffNotice }),
  };
}

/**
 * Whether the job has an order to place: a first certificate (pending, failed), or a renewal that
 * is due. A duplicate (issue for an issued domain, renew before it is due) changes nothing.
 */
export function needsOrder(kind: JobKind, doc: DomainDocument, now: number): boolean {
  if (doc.status !== 'issued' || !doc.certificate) return true;
  if (kind === 'issue') return false;
  return isRenewalDue(doc.certificate, now);
}

/** A new certificate is served: errors and backoff forgotten. */
export function withCertificate(doc: DomainDocument, certificate: CertificateSummary): DomainDocument {
  const { lastError: _l, renewalError: _r, nextAttemptAt: _n, ...rest } = doc;
  return { ...rest, status: 'issued', certificate, attempts: 0 };
}

/**
 * After an issuance or a renewal fails for good, the sweep tries again after this (doubling with
 * the failed attempts, at most a day): well within Let's Encrypt's limit of 5 failed validations
 * per name and hour.
 */
export function renewalRetryMs(attempts: number, baseMs: number): number {
  return Math.min(24 * 3600_000, baseMs * 2 ** Math.max(0, attempts - 1));
}

/**
 * A failed attempt. A domain without a certificate is `pending` while retries remain, `failed`
 * when the plan gives up. A domain with one keeps `issued` (its certificate still serves) and
 * says why the renewal failed. Either way the stored message ends with when Gasper tries again
 * (the job's retry, the CA's rate limit, or the sweep after giving up), so that whoever reads it,
 * through the API, the CLI, the dashboard or the job log, reads the same words.
 */
export function withFailure(doc: DomainDocument, plan: RetryPlan, now: number, renewalBaseMs: number): DomainDocument {
  const attempts = doc.attempts + 1;
  const next =
    plan.action === 'wait'
      ? plan.until
      : plan.action === 'retry'
        ? now + plan.delayMs
        : now + renewalRetryMs(attempts, renewalBaseMs);
  const nextAttemptAt = new Date(next).toISOString();
  const message = `${plan.message} Gasper tries again at ${utcTime(nextAttemptAt)}.`;
  const base = { ...doc, attempts, nextAttemptAt };
  if (doc.status === 'issued' && doc.certificate) return { ...base, renewalError: message };
  return { ...base, status: plan.action === 'give-up' ? 'failed' : 'pending', lastError: message };
}

/** `2027-01-02T03:04:05.000Z` → `2027-01-02 03:04:05 UTC`: a time a user reads in a message. */
export function utcTime(iso: string): string {
  return iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
}

/** `CN=R11, O=Let's Encrypt, C=US` (X509Certificate.issuer, one per line) → `R11 (Let's Encrypt)`. */
export function issuerName(issuer: string): string {
  const fields = new Map<string, string>();
  for (const line of issuer.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) fields.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  const cn = fields.get('CN');
  const o = fields.get('O');
  if (cn && o) return `${cn} (${o})`;
  return cn ?? o ?? issuer.trim();
}
