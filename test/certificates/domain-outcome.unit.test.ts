import { expect } from 'chai';
import {
  acmeOffNotice,
  issuerName,
  needsOrder,
  renewalRetryMs,
  withCertificate,
  withFailure,
  withVerified,
  sameIncarnation,
  utcTime,
} from '../../src/certificates/domain-outcome.ts';
import type { DomainDocument } from '../../src/store/domain-document.ts';

const now = Date.parse('2026-03-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const day = 24 * 3600_000;
const base: DomainDocument = {
  domain: 'shop.example.com',
  app: 'shop',
  appUid: 'u1',
  owner: 'alice',
  status: 'pending',
  attempts: 0,
  createdAt: iso(now - day),
  updatedAt: iso(now - day),
};
const cert = {
  issuer: "R11 (Let's Encrypt)",
  notBefore: iso(now - 10 * day),
  notAfter: iso(now + 80 * day),
  version: 'v1',
};
const issued: DomainDocument = { ...base, status: 'issued', certificate: cert };
const dueCert = { ...cert, notBefore: iso(now - 70 * day), notAfter: iso(now + 20 * day) };

describe('certificates: domain outcome', () => {
  const orderCases: [string, 'issue' | 'renew', DomainDocument, boolean][] = [
    ['issue a pending domain', 'issue', base, true],
    ['issue a failed domain (asked again)', 'issue', { ...base, status: 'failed', lastError: 'x' }, true],
    ['issue an issued domain: nothing to do', 'issue', issued, false],
    ['renew before it is due: nothing to do', 'renew', issued, false],
    ['renew when due', 'renew', { ...issued, certificate: dueCert }, true],
    ['renew a domain with no certificate: issue it', 'renew', base, true],
  ];
  for (const [name, kind, doc, expected] of orderCases) {
    it(name, () => expect(needsOrder(kind, doc, now)).to.equal(expected));
  }

  it('a new certificate clears errors and backoff', () => {
    const failed = { ...issued, renewalError: 'r', lastError: 'l', attempts: 3, nextAttemptAt: iso(now) };
    expect(withCertificate(failed, { ...cert, version: 'v2' })).to.deep.equal({
      ...base,
      status: 'issued',
      certificate: { ...cert, version: 'v2' },
      attempts: 0,
    });
  });

  const failureCases: [string, DomainDocument, Parameters<typeof withFailure>[1], Partial<DomainDocument>][] = [
    [
      'first issuance, retrying: pending with the reason and the next attempt',
      base,
      { action: 'retry', delayMs: 30_000, message: 'DNS: …' },
      {
        status: 'pending',
        lastError: `DNS: … Gasper tries again at 2026-03-01 00:00:30 UTC.`,
        attempts: 1,
        nextAttemptAt: iso(now + 30_000),
      },
    ],
    [
      'first issuance, given up: failed; the sweep tries again after the backoff (here 4 h: 1 h doubled twice)',
      { ...base, attempts: 2, nextAttemptAt: iso(now) },
      { action: 'give-up', message: 'The certificate authority refused: …' },
      {
        status: 'failed',
        lastError: `The certificate authority refused: … Gasper tries again at 2026-03-01 04:00:00 UTC.`,
        attempts: 3,
        nextAttemptAt: iso(now + 4 * 3600_000),
      },
    ],
    [
      'rate limited: pending until the CA allows',
      base,
      { action: 'wait', until: now + 3 * 3600_000, message: 'The certificate authority is rate limiting.' },
      {
        status: 'pending',
        lastError: `The certificate authority is rate limiting. Gasper tries again at 2026-03-01 03:00:00 UTC.`,
        attempts: 1,
        nextAttemptAt: iso(now + 3 * 3600_000),
      },
    ],
    [
      'renewal given up: still issued (the old certificate serves), renewalError, the sweep retries in an hour',
      issued,
      { action: 'give-up', message: 'The certificate authority refused: …' },
      {
        status: 'issued',
        certificate: cert,
        renewalError: `The certificate authority refused: … Gasper tries again at 2026-03-01 01:00:00 UTC.`,
        attempts: 1,
        nextAttemptAt: iso(now + 3600_000),
      },
    ],
  ];
  for (const [name, doc, plan, expected] of failureCases) {
    it(name, () => {
      const { nextAttemptAt: _n, ...rest } = doc;
      expect(withFailure(doc, plan, now, 3600_000)).to.deep.equal({ ...rest, ...expected });
    });
  }

  it('says a retry time as a user reads it', () => {
    expect(utcTime('2027-01-02T03:04:05.000Z')).to.equal('2027-01-02 03:04:05 UTC');
    expect(utcTime('2027-01-02T03:04:05Z')).to.equal('2027-01-02 03:04:05 UTC');
  });

  it('a failed renewal backs off, doubling up to a day', () => {
    expect([1, 2, 3, 6, 20].map((a) => renewalRetryMs(a, 3600_000))).to.deep.equal([
      3600_000, 7200_000, 14_400_000, 86_400_000, 86_400_000,
    ]);
  });

  const issuers: [string, string][] = [
    ["C=US\nO=Let's Encrypt\nCN=R11", "R11 (Let's Encrypt)"],
    ['CN=Pebble Intermediate CA 1a2b3c', 'Pebble Intermediate CA 1a2b3c'],
    ['O=Only Org', 'Only Org'],
  ];
  for (const [raw, name] of issuers) {
    it(`issuer ${JSON.stringify(raw)} → ${name}`, () => expect(issuerName(raw)).to.equal(name));
  }

  it('recording the ownership proof: verified once, errors forgotten, the ACME-off notice when no certificate comes', () => {
    const doc = {
      domain: 'shop.example.com',
      app: 'web',
      appUid: 'u1',
      owner: 'alice',
      status: 'pending' as const,
      verification: { token: 'gasper-verify=t' },
      lastError: 'Ownership: missing',
      attempts: 2,
      nextAttemptAt: '2027-01-01T00:00:00.000Z',
      createdAt: '2026-12-01T00:00:00.000Z',
      updatedAt: '2026-12-01T00:00:00.000Z',
    };
    const now = new Date('2026-12-02T00:00:00.000Z');
    const verified = withVerified(doc, now, true)!;
    expect(verified.verification).to.deep.equal({ token: 'gasper-verify=t', verifiedAt: now.toISOString() });
    expect(verified).to.include({ status: 'pending', attempts: 0 });
    expect(verified).not.to.have.property('lastError');
    expect(verified).not.to.have.property('nextAttemptAt');
    expect(withVerified(doc, now, false)!.lastError).to.equal(acmeOffNotice);
    expect(withVerified(verified, now, true)).to.equal(undefined);
    expect(withVerified({ ...doc, verification: undefined }, now, true)).to.equal(undefined);
    expect(sameIncarnation(doc, { appUid: 'u1', createdAt: doc.createdAt })).to.equal(true);
    expect(sameIncarnation(doc, { appUid: 'u2', createdAt: doc.createdAt })).to.equal(false);
    expect(sameIncarnation(doc, { appUid: 'u1', createdAt: '2026-12-03T00:00:00.000Z' })).to.equal(false);
  });
});
