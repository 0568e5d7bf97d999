import { expect } from 'chai';
import { challengeToken } from '../../src/proxy/acme-challenge.ts';

describe('acme-challenge: challengeToken', () => {
  const cases: [string | undefined, string | null | undefined][] = [
    ['/.well-known/acme-challenge/abc_DEF-123', 'abc_DEF-123'],
    ['/.well-known/acme-challenge/abc?x=1', 'abc'],
    ['/.well-known/acme-challenge/', null],
    ['/.well-known/acme-challenge/../../etc/passwd', null],
    ['/.well-known/acme-challenge/a.b', null],
    [`/.well-known/acme-challenge/${'a'.repeat(257)}`, null],
    ['/.well-known/acme-challenge', undefined],
    ['/.well-known/other', undefined],
    ['/', undefined],
    [undefined, undefined],
  ];
  for (const [url, token] of cases) {
    it(`${JSON.stringify(url)} -> ${JSON.stringify(token)}`, () => expect(challengeToken(url)).to.equal(token));
  }
});
