import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/core/config.ts';

describe('config: HTTPS and the platform host', () => {
  it('defaults: HTTPS on 8443 (no root needed), platform host gasper.<domain> forwarded to the API on loopback', () => {
    const config = loadConfig({ GASPER_DOMAIN: 'apps.example.com' });
    expect(config.proxy).to.include({ httpsPort: 8443, httpsHost: '0.0.0.0' });
    expect(config.proxy.tlsCertFile).to.equal(undefined);
    expect(config.platform).to.deep.equal({ host: 'gasper.apps.example.com', upstream: '127.0.0.1:3000' });
    expect(config.api.publicUrl).to.equal(undefined);
  });

  const publicUrls: [string, Record<string, string>, string | undefined][] = [
    ['a platform certificate on 443', { GASPER_HTTPS_PORT: '443' }, 'https://gasper.apps.example.com'],
    ['a platform certificate on 8443', {}, 'https://gasper.apps.example.com:8443'],
    [
      'another platform host',
      { GASPER_HTTPS_PORT: '443', GASPER_PLATFORM_HOST: 'Paas.Example.org' },
      'https://paas.example.org',
    ],
    ['GASPER_API_URL wins', { GASPER_API_URL: 'https://api.example.net/' }, 'https://api.example.net'],
    ['a free port (tests): unknown', { GASPER_HTTPS_PORT: '0' }, undefined],
  ];
  for (const [what, env, url] of publicUrls) {
    it(`webhook URLs with ${what}: ${url}`, () => {
      const config = loadConfig({
        GASPER_DOMAIN: 'apps.example.com',
        GASPER_TLS_CERT: 'tls.pem',
        GASPER_TLS_KEY: 'tls.key',
        ...env,
      });
      expect(config.api.publicUrl).to.equal(url);
    });
  }

  const upstreams: [Record<string, string>, string | undefined][] = [
    [{ GASPER_API_HOST: '10.0.0.5', GASPER_API_PORT: '3100' }, '10.0.0.5:3100'],
    [{ GASPER_API_HOST: '::', GASPER_API_PORT: '3100' }, '127.0.0.1:3100'],
    [{ GASPER_API_HOST: '::1' }, '[::1]:3000'],
    [{ GASPER_API_PORT: '0' }, undefined],
    [{ GASPER_PLATFORM_UPSTREAM: 'api.internal:3000' }, 'api.internal:3000'],
  ];
  for (const [env, upstream] of upstreams) {
    it(`platform upstream of ${JSON.stringify(env)}: ${upstream}`, () => {
      expect(loadConfig(env).platform.upstream).to.equal(upstream);
    });
  }

  const bad: [Record<string, string>, string][] = [
    [{ GASPER_TLS_CERT: 'tls.pem' }, 'GASPER_TLS_KEY'],
    [{ GASPER_TLS_KEY: 'tls.key' }, 'GASPER_TLS_CERT'],
    [{ GASPER_HTTPS_PORT: '70000' }, 'GASPER_HTTPS_PORT'],
    [{ GASPER_PLATFORM_HOST: 'not a host' }, 'GASPER_PLATFORM_HOST'],
    [{ GASPER_PLATFORM_UPSTREAM: 'http://api:3000' }, 'GASPER_PLATFORM_UPSTREAM'],
  ];
  for (const [env, variable] of bad) {
    it(`refuses ${JSON.stringify(env)}, naming ${variable}`, () => {
      expect(() => loadConfig(env))
        .to.throw(ConfigError)
        .with.property('variable', variable);
    });
  }
});
