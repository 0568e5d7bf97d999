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
}

/**
 * The domains whose certificate to renew now: issued, due, and not held back by a failed
 * attempt's backoff or a CA rate limit.
 */
export function planRenewals(domains: readonly RenewalCandidate[], now: number): string[] {
  return domains
    .filter((d) => d.status === 'issued' && d.certificate && isRenewalDue(d.certificate, now))
    .filter((d) => !d.nextAttemptAt || Date.parse(d.nextAttemptAt) <= now)
    .map((d) => d.domain);
}
