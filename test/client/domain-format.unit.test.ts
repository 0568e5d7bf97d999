import { expect } from 'chai';
import { domainProblem, domainRows, nextSteps, redirectNote, shortDate } from '../../src/client/domain-format.ts';

describe('client output for custom domains', () => {
  const problems: [string, Record<string, unknown>, string][] = [
    ['nothing wrong', { status: 'issued' }, '-'],
    ['an issuance error', { status: 'failed', lastError: 'DNS does not point here' }, 'DNS does not point here'],
    [
      'an error, which says when it is tried again',
      {
        status: 'pending',
        lastError: 'the TXT record is missing. Gasper tries again at 2027-01-02 03:04:05 UTC.',
        nextAttemptAt: '2027-01-02T03:04:05.000Z',
      },
      'the TXT record is missing. Gasper tries again at 2027-01-02 03:04:05 UTC.',
    ],
    [
      'a failed renewal',
      { status: 'issued', renewalError: 'the CA refused: bad nonce. Gasper tries again at 2027-01-02 03:04:05 UTC.' },
      'renewal failed, the current certificate still serves: the CA refused: bad nonce. Gasper tries again at 2027-01-02 03:04:05 UTC.',
    ],
  ];
  for (const [what, domain, expected] of problems) {
    it(`words ${what}`, () => expect(domainProblem(domain)).to.equal(expected));
  }

  const redirects: [string, string, string[], string][] = [
    ['allow says nothing more', 'allow', ['a.example.com'], ''],
    [
      'redirect names where it applies',
      'redirect',
      ['web.apps.example.com', 'shop.example.com'],
      ' (plain HTTP to web.apps.example.com, shop.example.com is redirected)',
    ],
    [
      'redirect without a certificate says it does nothing yet',
      'redirect',
      [],
      ' (not in effect yet: no name of the app has a certificate, so plain HTTP is still served; it starts with the platform certificate, GASPER_TLS_CERT, or once a custom domain is issued)',
    ],
  ];
  for (const [what, mode, covered, expected] of redirects) {
    it(`https: ${what}`, () => expect(redirectNote(mode, covered)).to.equal(expected));
  }

  it('dates read as UTC minutes, or -', () => {
    expect(shortDate('2027-03-01T12:30:59.000Z')).to.equal('2027-03-01 12:30 UTC');
    expect(shortDate(undefined)).to.equal('-');
  });

  it('lists domains as a table, the error last', () => {
    expect(
      domainRows([
        { domain: 'a.example.com', status: 'issued', issuer: 'R3', notAfter: '2027-03-01T00:00:00Z' },
        { domain: 'b.example.com', status: 'failed', lastError: 'DNS does not point here' },
      ]),
    ).to.equal(
      [
        'DOMAIN         STATUS  ISSUER  NOT AFTER             ERROR',
        'a.example.com  issued  R3      2027-03-01 00:00 UTC  -',
        'b.example.com  failed  -       -                     DNS does not point here',
      ].join('\n'),
    );
  });

  it('says what to do next: the DNS records, the CNAME alternative, how the certificate comes', () => {
    const text = nextSteps('web', 'shop.example.com', {
      records: [{ type: 'A', name: 'shop.example.com', value: '203.0.113.7' }],
      cname: { type: 'CNAME', name: 'shop.example.com', value: 'web.apps.example.net' },
    });
    expect(text).to.match(/shop\.example\.com\.\s+A\s+203\.0\.113\.7/);
    expect(text).to.include('CNAME web.apps.example.net.');
    expect(text).to.include('issued automatically');
    expect(text).to.include('gasper domains list web');
    expect(nextSteps('web', 'shop.example.com', { records: [] })).to.include('GASPER_DNS_PROXY_ADDRESSES');
  });

  it('shows the TXT record that proves ownership while it is awaited', () => {
    const proof = { type: 'TXT', name: '_gasper-verify.shop.example.com', value: 'gasper-verify=abc' };
    const text = nextSteps('web', 'shop.example.com', { records: [] }, { verification: proof });
    expect(text).to.match(/_gasper-verify\.shop\.example\.com\.\s+TXT\s+gasper-verify=abc/);
    expect(text).to.include('is not routed to web');
    const done = nextSteps('web', 'shop.example.com', { records: [] }, { verification: { ...proof, verifiedAt: 'x' } });
    expect(done).not.to.include('TXT');
  });

  it('says that no certificate comes when ACME is off', () => {
    const text = nextSteps('web', 'shop.example.com', { records: [] }, {}, 'off');
    expect(text).to.include('Automatic certificates are off on this platform (GASPER_ACME)');
    expect(text).not.to.include('issued automatically');
  });
});
