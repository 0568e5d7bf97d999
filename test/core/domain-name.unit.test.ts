import { expect } from 'chai';
import { checkDomainName, platformZoneProblem } from '../../src/core/domain-name.ts';

describe('custom domain names', () => {
  const accepted: [string, string][] = [
    ['shop.example.com', 'shop.example.com'],
    ['Shop.Example.COM', 'shop.example.com'],
    ['shop.example.com.', 'shop.example.com'],
    ['example.com', 'example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['a-b.c-d.io', 'a-b.c-d.io'],
    ['1.example.com', '1.example.com'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ];
  for (const [input, stored] of accepted) {
    it(`accepts ${JSON.stringify(input.slice(0, 40))} as ${stored.slice(0, 40)}`, () => {
      expect(checkDomainName(input)).to.deep.equal({ ok: true, domain: stored });
    });
  }

  const refused: [string, RegExp][] = [
    ['', /empty/],
    ['shop .example.com', /spaces/],
    ['https://shop.example.com', /without scheme/],
    ['shop.example.com/path', /without scheme/],
    ['shop.example.com:8080', /port/],
    ['*.example.com', /wildcards/],
    ['1.2.3.4', /IP address/],
    ['[::1]', /IP address/],
    ['::1', /IP address/],
    ['0x7f.1', /all-digit/],
    ['localhost', /two labels/],
    ['a..example.com', /empty labels/],
    ['.example.com', /empty labels/],
    ['-shop.example.com', /inner hyphens/],
    ['shop-.example.com', /inner hyphens/],
    ['sh_op.example.com', /inner hyphens/],
    [`${'a'.repeat(64)}.com`, /longer than 63/],
    [`${'abcdefghi.'.repeat(26)}com`, /253/],
    ['shop.123', /all-digit/],
    ['xn--zz.com', /punycode/],
  ];
  for (const [input, problem] of refused) {
    it(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
      const check = checkDomainName(input);
      expect(check.ok).to.equal(false);
      if (!check.ok) expect(check.problem).to.match(problem);
    });
  }

  it('refuses the platform zone and names under it, explaining <app>.<zone>', () => {
    expect(platformZoneProblem('apps.example.net', 'apps.example.net')).to.match(/<app>\.apps\.example\.net/);
    expect(platformZoneProblem('shop.apps.example.net', 'apps.example.net')).to.match(/own domain/);
    expect(platformZoneProblem('myapps.example.net', 'apps.example.net')).to.equal(undefined);
    expect(platformZoneProblem('example.net', 'apps.example.net')).to.equal(undefined);
  });
});
