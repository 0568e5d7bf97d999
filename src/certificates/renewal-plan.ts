/**
 * When a certificate is renewed: once a third of its lifetime is left (Let's Encrypt's advice,
 * which gives 30 days of margin on a 90-day certificate, and still works for 6-day ones). Pure:
 * table-tested in test/certificates/renewal-plan.unit.test.ts.
 */

export interface CertificateTimes {
  notBefore: string;
  notAfter: string;
}

/** The moment a third of the lifetime is left. */
export function renewalDueAt(cert: CertificateTimes): number {
  const start = Date.parse(cert.notBefore);
  const end = Date.parse(cert.notAfter);
  return end - (end - start) / 3;
}

export function isRenewalDue(cert: CertificateTimes, now: number): boolean {
  return now >= renewalDueAt(cert);
}

/** What the renewal sweep needs of a domain document (src/store/domain-document.ts). */
export interface RenewalCandidate {
  domain: string;
  status: 'pending' | 'issued' | 'failed';
  certificate?: CertificateTimes;
  /** Set after a failed or rate-limited attempt: nothing is tried before it. */
  nextAttemptAt?: string;
  updatedAt: string;
  /** Present while the ownership proof is awaited or recorded (see domain-document.ts). */
  verification?: { verifiedAt?: string };
}

export interface SweepPolicy {
  /** Whether certificates are ordered (GASPER_ACME): off, only ownership proofs are pursued. */
  acme: boolean;
  /** A pending domain neither updated nor waiting for this long lost its job (a killed worker). */
  stalledMs: number;
}

export interface SweepItem {
  domain: string;
  kind: 'issue' | 'renew';
}

/**
 * What the periodic sweep enqueues: a renewal for each issued certificate that is due, and a new
 * issuance for each failed domain whose backoff is over (a user who fixes DNS later gets a
 * certificate without asking again). Either waits for `nextAttemptAt` (a failure's backoff, a
 * CA rate limit). A pending domain normally has its job already; one whose `nextAttemptAt` passed,
 * or that nobody touched for `stalledMs`, lost it (a worker killed mid-job): it is enqueued again,
 * harmlessly since job ids are fixed. With ACME off, only domains awaiting their ownership proof
 * are pursued.
 */
export function planSweep(domains: readonly RenewalCandidate[], now: number, policy: SweepPolicy): SweepItem[] {
  const ready = (d: RenewalCandidate) => !d.nextAttemptAt || Date.parse(d.nextAttemptAt) <= now;
  return domains.flatMap((d): SweepItem[] => {
    if (!ready(d)) return [];
    const unverified = d.verification !== undefined && d.verification.verifiedAt === undefined;
    if (!policy.acme && !unverified) return [];
    if (d.status === 'issued' && d.certificate && isRenewalDue(d.certificate, now)) {
      return [{ domain: d.domain, kind: 'renew' }];
    }
    if (d.status === 'failed' && d.nextAttemptAt) return [{ domain: d.domain, kind: 'issue' }];
    if (d.status === 'pending') {
      const stalled = now - Date.parse(d.updatedAt) >= policy.stalledMs;
      if (d.nextAttemptAt || stalled) return [{ domain: d.domain, kind: 'issue' }];
    }
    return [];
  });
}
