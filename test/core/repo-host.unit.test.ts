import { expect } from 'chai';
import { addressProblem, hostProblem, literalAddress } from '../../src/core/repo-host.ts';

describe('repo-host', () => {
  describe('literalAddress: every spelling of an IPv4 address that git (inet_aton) accepts', () => {
    const table: Array<[string, string | undefined]> = [
      ['127.0.0.1', '127.0.0.1'],
      ['2130706433', '127.0.0.1'],
      ['0x7f000001', '127.0.0.1'],
      ['0x7f.1', '127.0.0.1'],
      ['0177.0.0.1', '127.0.0.1'],
      ['127.1', '127.0.0.1'],
      ['0', '0.0.0.0'],
      ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
      ['2852039166', '169.254.169.254'],
      ['[::1]', '::1'],
      ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
      ['256.0.0.1', undefined],
      ['4294967296', undefined],
      ['08.0.0.1', undefined],
      ['1.2.3.4.5', undefined],
      ['github.com', undefined],
    ];
    for (const [host, address] of table) {
      it(`${host} → ${address}`, () => expect(literalAddress(host)).to.equal(address));
    }
  });

  describe('addressProblem', () => {
    const refused: Array<[string, RegExp]> = [
      ['127.0.0.1', /loopback/],
      ['127.255.0.9', /loopback/],
      ['::1', /loopback/],
      ['::ffff:127.0.0.1', /loopback/],
      ['::ffff:7f00:1', /loopback/],
      ['64:ff9b::7f00:1', /loopback/],
      ['10.1.2.3', /private/],
      ['172.16.0.1', /private/],
      ['172.31.255.255', /private/],
      ['192.168.1.1', /private/],
      ['fd12:3456::1', /private/],
      ['100.64.0.1', /CGNAT/],
      ['100.127.255.255', /CGNAT/],
      ['169.254.1.1', /link-local/],
      ['fe80::1', /link-local/],
      ['0.0.0.0', /unspecified/],
      ['::', /unspecified/],
      ['169.254.169.254', /metadata/],
      ['fd00:ec2::254', /metadata/],
      ['224.0.0.1', /multicast/],
      ['255.255.255.255', /reserved/],
    ];
    for (const [address, message] of refused) {
      it(`refuses ${address}`, () => {
        expect(addressProblem(address, address, { allowLocal: false })).to.match(message);
      });
    }
    for (const address of [
      '140.82.112.3',
      '8.8.8.8',
      '2606:4700::1111',
      '172.32.0.1',
      '100.128.0.1',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
    ]) {
      it(`accepts ${address}`, () =>
        expect(addressProblem(address, address, { allowLocal: false })).to.equal(undefined));
    }
    it('allows local addresses when the operator does, never metadata', () => {
      for (const a of ['127.0.0.1', '10.0.0.1', '169.254.1.1', '100.64.0.1', '::1'])
        expect(addressProblem(a, a, { allowLocal: true })).to.equal(undefined);
      for (const a of ['169.254.169.254', 'fd00:ec2::254'])
        expect(addressProblem(a, a, { allowLocal: true })).to.match(/metadata/);
    });
  });

  describe('hostProblem', () => {
    const lookup = async (host: string) => {
      const table: Record<string, string[]> = {
        'public.example': ['140.82.112.3'],
        'rebind.example': ['140.82.112.3', '127.0.0.1'],
        'meta.example': ['169.254.169.254'],
      };
      if (table[host]) return table[host];
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    };
    const check = (host: string, onLookupError: 'accept' | 'refuse' = 'refuse') =>
      hostProblem(host, { allowLocal: false, lookup, onLookupError });
    it('checks literals without DNS, in any spelling', async () => {
      expect(await check('2130706433')).to.match(/2130706433 \(127\.0\.0\.1\) is a loopback/);
      expect(await check('0x7f.1')).to.match(/loopback/);
    });
    it('checks every address a name resolves to', async () => {
      expect(await check('public.example')).to.equal(undefined);
      expect(await check('rebind.example')).to.match(/rebind\.example resolves to a loopback address/);
      expect(await check('meta.example')).to.match(/metadata/);
    });
    it('an unresolvable host: accepted by the API, refused by the worker', async () => {
      expect(await check('nowhere.example', 'accept')).to.equal(undefined);
      expect(await check('nowhere.example', 'refuse')).to.match(/could not resolve host nowhere\.example/);
    });
    it('uses the system resolver by default (localhost is loopback)', async () => {
      expect(await hostProblem('localhost', { allowLocal: false, onLookupError: 'refuse' })).to.match(/loopback/);
    });
  });
});
