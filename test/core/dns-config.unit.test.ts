import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/core/config.ts';

describe('loadConfig: DNS settings', () => {
  it('defaults to an unprivileged port and to the node address for apps and name servers', () => {
    expect(loadConfig({}).dns).to.deep.equal({
      host: '0.0.0.0',
      port: 8053,
      proxyAddresses: ['127.0.0.1'],
      nameservers: ['ns1.localhost'],
      nsAddresses: ['127.0.0.1'],
      ttl: 30,
    });
    const config = loadConfig({ GASPER_DOMAIN: 'apps.example.com', GASPER_NODE_ADDRESS: '198.51.100.7' });
    expect(config.dns.proxyAddresses).to.deep.equal(['198.51.100.7']);
    expect(config.dns.nameservers).to.deep.equal(['ns1.apps.example.com']);
  });

  it('reads lists of addresses (IPv4 and IPv6) and name servers', () => {
    const { dns } = loadConfig({
      GASPER_DNS_PORT: '53',
      GASPER_DNS_HOST: '::',
      GASPER_DNS_PROXY_ADDRESSES: '203.0.113.10, 2001:DB8::10 ,',
      GASPER_DNS_NAMESERVERS: 'ns1.example.net., ns2.example.net',
      GASPER_DNS_NS_ADDRESSES: '203.0.113.53',
      GASPER_DNS_TTL: '300',
    });
    expect(dns).to.deep.equal({
      host: '::',
      port: 53,
      proxyAddresses: ['203.0.113.10', '2001:db8::10'],
      nameservers: ['ns1.example.net', 'ns2.example.net'],
      nsAddresses: ['203.0.113.53'],
      ttl: 300,
    });
  });

  it('name servers inside the zone default to the proxy addresses', () => {
    expect(loadConfig({ GASPER_DNS_PROXY_ADDRESSES: '192.0.2.1' }).dns.nsAddresses).to.deep.equal(['192.0.2.1']);
  });

  const bad: [string, string][] = [
    ['GASPER_DNS_PORT', '65536'],
    ['GASPER_DNS_PORT', 'dns'],
    ['GASPER_DNS_PROXY_ADDRESSES', '127.0.0.1,proxy.local'],
    ['GASPER_DNS_PROXY_ADDRESSES', ','],
    ['GASPER_DNS_NAMESERVERS', 'ns 1.example.com'],
    ['GASPER_DNS_NS_ADDRESSES', '300.1.1.1'],
    ['GASPER_DNS_TTL', '-1'],
  ];
  for (const [variable, value] of bad) {
    it(`rejects ${variable}=${JSON.stringify(value)} naming the variable`, () => {
      expect(() => loadConfig({ [variable]: value }))
        .to.throw(ConfigError)
        .with.property('variable', variable);
    });
  }
});
