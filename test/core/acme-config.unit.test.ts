import { expect } from 'chai';
import { loadConfig } from '../../src/core/config.ts';

describe('loadConfig: automatic certificates (GASPER_ACME_*)', () => {
  it("defaults to on, Let's Encrypt production, no contact, a sweep every 6 h", () => {
    expect(loadConfig({}).acme).to.deep.equal({
      enabled: true,
      directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
      renewalCheckMs: 6 * 3600_000,
    });
  });

  it('reads every setting', () => {
    expect(
      loadConfig({
        GASPER_ACME: 'off',
        GASPER_ACME_DIRECTORY: 'https://127.0.0.1:14000/dir',
        GASPER_ACME_EMAIL: 'ops@example.com',
        GASPER_ACME_CA_CERT: '/etc/gasper/pebble.pem',
        GASPER_ACME_DNS_SERVERS: '127.0.0.1:8054, 1.1.1.1,[2001:db8::53]:53,2001:db8::54',
        GASPER_ACME_RENEWAL_CHECK_MS: '60000',
      }).acme,
    ).to.deep.equal({
      enabled: false,
      directoryUrl: 'https://127.0.0.1:14000/dir',
      email: 'ops@example.com',
      caCertFile: '/etc/gasper/pebble.pem',
      dnsServers: ['127.0.0.1:8054', '1.1.1.1', '[2001:db8::53]:53', '2001:db8::54'],
      renewalCheckMs: 60_000,
    });
  });

  const refused: [Record<string, string>, RegExp][] = [
    [{ GASPER_ACME_DIRECTORY: 'ftp://ca.example/dir' }, /^GASPER_ACME_DIRECTORY: must be an http\(s\) URL/],
    [{ GASPER_ACME_EMAIL: 'ops' }, /^GASPER_ACME_EMAIL: must be an email address/],
    [{ GASPER_ACME_DNS_SERVERS: 'dns.example:53' }, /^GASPER_ACME_DNS_SERVERS: "dns\.example:53" is not an IP address/],
    [{ GASPER_ACME_DNS_SERVERS: '127.0.0.1:0' }, /^GASPER_ACME_DNS_SERVERS: "127\.0\.0\.1:0"/],
    [{ GASPER_ACME_RENEWAL_CHECK_MS: '10' }, /^GASPER_ACME_RENEWAL_CHECK_MS: /],
    [{ GASPER_ACME: 'maybe' }, /^GASPER_ACME: /],
  ];
  for (const [env, message] of refused) {
    it(`refuses ${JSON.stringify(env)}, naming the variable`, () => {
      expect(() => loadConfig(env)).to.throw(message);
    });
  }
});
