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

  it('renews issued certificates that are due, retries failed domains after their backoff', () => {
    const domains: RenewalCandidate[] = [
      { domain: 'due.example', status: 'issued', certificate: ninety },
      { domain: 'fresh.example', status: 'issued', certificate: { notBefore: t(50 * day), notAfter: t(140 * day) } },
      { domain: 'pending.example', status: 'pending' },
      { domain: 'pending-retrying.example', status: 'pending', nextAttemptAt: t(60 * day) },
      { domain: 'failed.example', status: 'failed', nextAttemptAt: t(61 * day) },
      { domain: 'failed-later.example', status: 'failed', nextAttemptAt: t(61 * day + 1) },
      { domain: 'backoff.example', status: 'issued', certificate: ninety, nextAttemptAt: t(62 * day) },
      { domain: 'backoff-over.example', status: 'issued', certificate: ninety, nextAttemptAt: t(60 * day) },
    ];
    expect(planSweep(domains, 61 * day)).to.deep.equal([
      { domain: 'due.example', kind: 'renew' },
      { domain: 'failed.example', kind: 'issue' },
      { domain: 'backoff-over.example', kind: 'renew' },
    ]);
  });
});
