import { expect } from 'chai';
import { certificateCovers, chooseCertificate, dnsNames, tlsPolicy } from '../../src/proxy/tls.ts';

describe('tls: certificate choice by SNI, and the policy', () => {
  const custom = new Set(['shop.example.com']);
  const cases: [string, boolean, string][] = [
    ['shop.example.com', true, 'custom'],
    ['SHOP.example.com.', true, 'custom'],
    ['shop.example.com', false, 'custom'],
    ['blog.apps.test', true, 'platform'],
    ['www.example.com', true, 'platform'],
    ['', true, 'platform'],
    ['blog.apps.test', false, 'none'],
  ];
  for (const [name, platform, expected] of cases) {
    it(`${JSON.stringify(name)}, platform certificate ${platform ? 'set' : 'unset'} -> ${expected}`, () => {
      expect(chooseCertificate(name, { custom: (n) => custom.has(n), platform })).to.equal(expected);
    });
  }

  it('allows TLS 1.2 and up only, with forward-secret AEAD suites for TLS 1.2, and HTTP/1.1', () => {
    expect(tlsPolicy.minVersion).to.equal('TLSv1.2');
    for (const suite of tlsPolicy.ciphers.split(':'))
      expect(suite).to.match(/^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20-POLY1305)/);
    expect(tlsPolicy.ALPNProtocols).to.deep.equal(['http/1.1']);
  });

  it('dnsNames: the DNS names of a subjectAltName, lowercase, IP addresses left out', () => {
    expect(dnsNames('DNS:*.Apps.test, DNS:apps.test, IP Address:127.0.0.1')).to.deep.equal([
      '*.apps.test',
      'apps.test',
    ]);
    expect(dnsNames('')).to.deep.equal([]);
  });

  const names = ['*.apps.test', 'apps.test', 'www.example.com'];
  const covers: [string, boolean][] = [
    ['shop.apps.test', true],
    ['Shop.Apps.Test.', true],
    ['shop.apps.test:8443', true],
    ['apps.test', true],
    ['a.b.apps.test', false],
    ['www.example.com', true],
    ['shop.example.com', false],
    ['example.com', false],
    ['', false],
  ];
  for (const [name, expected] of covers) {
    it(`certificateCovers(${JSON.stringify(names)}, ${JSON.stringify(name)}) -> ${expected}`, () => {
      expect(certificateCovers(names, name)).to.equal(expected);
    });
  }
});
