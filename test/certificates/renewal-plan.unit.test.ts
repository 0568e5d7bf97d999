import { expect } from 'chai';
import { isRenewalDue, planSweep, renewalDueAt, type RenewalCandidate } from '../../src/certificates/renewal-plan.ts';

const day = 24 * 3600_000;
const t = (ms: number) => new Date(ms).toISOString();
/** A 90-day certificate from day 0. */
const ninety = { notBefore: t(0), notAfter: t(90 * day) };

describe('certificates: renewal plan', () => {
  const dueCases: [string, { notBefore: string; notAfter: string }, number, boolean][] = [
    ['90 days, day 59', ninety, 59 * day, false],
    ['90 days, day 60 (a third left)', ninety, 60 * day, true],
    ['90 days, expired', ninety, 91 * day, true],
    ['6 days, day 3', { notBefore: t(0), notAfter: t(6 * day) }, 3 * day, false],
    ['6 days, day 4', { notBefore: t(0), notAfter: t(6 * day) }, 4 * day, true],
  ];
  for (const [name, cert, now, due] of dueCases) {
    it(`${name} → ${due ? 'due' : 'not due'}`, () => expect(isRenewalDue(cert, now)).to.equal(due));
  }

  it('a third of the lifetime before notAfter', () => {
    expect(renewalDueAt(ninety)).to.equal(60 * day);
  });

  const now = 61 * day;
  const recent = t(now - 60_000);
  const policy = { acme: true, stalledMs: 30 * 60_000 };

  it('renews issued certificates that are due, retries failed domains after their backoff, revives stalled pending ones', () => {
    const domains: RenewalCandidate[] = [
      { domain: 'due.example', status: 'issued', certificate: ninety, updatedAt: recent },
      {
        domain: 'fresh.example',
        status: 'issued',
        certificate: { notBefore: t(50 * day), notAfter: t(140 * day) },
        updatedAt: recent,
      },
      { domain: 'pending.example', status: 'pending', updatedAt: recent },
      { domain: 'pending-stalled.example', status: 'pending', updatedAt: t(now - 30 * 60_000) },
      { domain: 'pending-retrying.example', status: 'pending', nextAttemptAt: t(60 * day), updatedAt: recent },
      { domain: 'pending-waiting.example', status: 'pending', nextAttemptAt: t(now + 1), updatedAt: t(0) },
      { domain: 'failed.example', status: 'failed', nextAttemptAt: t(61 * day), updatedAt: recent },
      { domain: 'failed-later.example', status: 'failed', nextAttemptAt: t(61 * day + 1), updatedAt: recent },
      {
        domain: 'backoff.example',
        status: 'issued',
        certificate: ninety,
        nextAttemptAt: t(62 * day),
        updatedAt: recent,
      },
      {
        domain: 'backoff-over.example',
        status: 'issued',
        certificate: ninety,
        nextAttemptAt: t(60 * day),
        updatedAt: recent,
      },
    ];
    expect(planSweep(domains, now, policy)).to.deep.equal([
      { domain: 'due.example', kind: 'renew' },
      { domain: 'pending-stalled.example', kind: 'issue' },
      { domain: 'pending-retrying.example', kind: 'issue' },
      { domain: 'failed.example', kind: 'issue' },
      { domain: 'backoff-over.example', kind: 'renew' },
    ]);
  });

  it('with ACME off, pursues only domains awaiting their ownership proof', () => {
    const unverified = { verification: {} };
    const domains: RenewalCandidate[] = [
      { domain: 'due.example', status: 'issued', certificate: ninety, updatedAt: recent },
      { domain: 'stalled.example', status: 'pending', updatedAt: t(0) },
      { domain: 'verified.example', status: 'pending', updatedAt: t(0), verification: { verifiedAt: t(0) } },
      { domain: 'unverified-stalled.example', status: 'pending', updatedAt: t(0), ...unverified },
      { domain: 'unverified-fresh.example', status: 'pending', updatedAt: recent, ...unverified },
      { domain: 'unverified-failed.example', status: 'failed', nextAttemptAt: t(0), updatedAt: recent, ...unverified },
    ];
    expect(planSweep(domains, now, { ...policy, acme: false })).to.deep.equal([
      { domain: 'unverified-stalled.example', kind: 'issue' },
      { domain: 'unverified-failed.example', kind: 'issue' },
    ]);
  });
});
