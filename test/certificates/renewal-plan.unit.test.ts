import { expect } from 'chai';
import {
  isRenewalDue,
  planRenewals,
  renewalDueAt,
  type RenewalCandidate,
} from '../../src/certificates/renewal-plan.ts';

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

  it('renews issued certificates that are due and not held back', () => {
    const domains: RenewalCandidate[] = [
      { domain: 'due.example', status: 'issued', certificate: ninety },
      { domain: 'fresh.example', status: 'issued', certificate: { notBefore: t(50 * day), notAfter: t(140 * day) } },
      { domain: 'pending.example', status: 'pending' },
      { domain: 'failed.example', status: 'failed' },
      { domain: 'backoff.example', status: 'issued', certificate: ninety, nextAttemptAt: t(62 * day) },
      { domain: 'backoff-over.example', status: 'issued', certificate: ninety, nextAttemptAt: t(60 * day) },
    ];
    expect(planRenewals(domains, 61 * day)).to.deep.equal(['due.example', 'backoff-over.example']);
  });
});
