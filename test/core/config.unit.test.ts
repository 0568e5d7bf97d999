import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/core/config.ts';

/** The ConfigError loadConfig throws for `env`, failing the test when it throws none. */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).to.deep.include({
      stateDir: path.resolve(os.homedir(), '.gasper'),
      api: { host: '0.0.0.0', port: 3000 },
      proxy: { host: '0.0.0.0', port: 8080, httpsPort: 8443, httpsHost: '0.0.0.0' },
      proxyProcesses: os.availableParallelism(),
      domain: 'localhost',
      redisUrl: undefined,
      dockerHost: undefined,
      adminToken: undefined,
      secretKey: undefined,
      allowLocalRepos: false,
      extraCaCerts: undefined,
      imagePrefix: 'gasper',
      runtimeImages: {},
      healthTimeoutMs: 60_000,
      buildTimeoutMs: 900_000,
      workerConcurrency: 4,
      jobAttempts: 3,
      logLevel: 'info',
    });
    expect(config.node.address).to.equal('127.0.0.1');
    expect(config.node.id).to.match(/^[a-z0-9][a-z0-9-]{0,39}$/);
  });

  it('reads given values', () => {
    const config = loadConfig({
      GASPER_API_PORT: '4000',
      GASPER_PROXY_PORT: '80',
      GASPER_DOMAIN: 'apps.example.com',
      REDIS_URL: 'rediss://redis.internal:6380',
      GASPER_NODE_ID: 'node-2',
      GASPER_NODE_ADDRESS: '::1',
      GASPER_ADMIN_TOKEN: '  0123456789abcdef  ',
      GASPER_SECRET_KEY: 'ab'.repeat(32),
      GASPER_ALLOW_LOCAL_REPOS: 'yes',
    });
    expect(config.api.port).to.equal(4000);
    expect(config.proxy.port).to.equal(80);
    expect(config.domain).to.equal('apps.example.com');
    expect(config.redisUrl).to.equal('rediss://redis.internal:6380');
    expect(config.node).to.deep.equal({ id: 'node-2', address: '::1' });
    expect(config.adminToken).to.equal('0123456789abcdef');
    expect(config.secretKey).to.equal('ab'.repeat(32));
    expect(config.allowLocalRepos).to.equal(true);
  });

  const bad: [string, string][] = [
    ['GASPER_API_PORT', 'abc'],
    ['GASPER_API_PORT', '70000'],
    ['GASPER_PROXY_PORT', '-1'],
    ['GASPER_DOMAIN', 'Bad_Domain'],
    ['REDIS_URL', 'http://x'],
    ['GASPER_NODE_ID', 'UPPER'],
    ['GASPER_NODE_ADDRESS', 'not-an-ip'],
    ['GASPER_ADMIN_TOKEN', 'short'],
    ['GASPER_SECRET_KEY', 'not-hex'],
    ['GASPER_SECRET_KEY', 'ab'.repeat(31)],
    ['GASPER_ALLOW_LOCAL_REPOS', 'maybe'],
    ['GASPER_RUNTIME_IMAGES', 'node'],
    ['GASPER_RUNTIME_IMAGES', 'node='],
    ['GASPER_RUNTIME_IMAGES', '=node:20'],
    ['GASPER_LOG_LEVEL', 'loud'],
    ['GASPER_KEEP_RELEASES', '0'],
    ['GASPER_MAX_MEMORY_MB', '16'],
    ['GASPER_DEFAULT_MEMORY_MB', '8192'],
    ['GASPER_DEFAULT_CPU', '8'],
    ['GASPER_CRASH_LOOP_RESTARTS', '0'],
    ['GASPER_DRAIN_GRACE_MS', '-1'],
    ['GASPER_WEBHOOK_MAX_BYTES', '1000'],
    ['GASPER_WEBHOOK_MAX_BYTES', String(26 * 1024 * 1024)],
  ];
  for (const [variable, value] of bad) {
    it(`rejects ${variable}=${JSON.stringify(value)} naming the variable`, () => {
      const err = configError({ [variable]: value });
      expect(err.variable).to.equal(variable);
      expect(err.message).to.match(new RegExp(`^${variable}: `));
    });
  }

  it('parses GASPER_RUNTIME_IMAGES into a map, tolerating spaces and empty entries', () => {
    const config = loadConfig({ GASPER_RUNTIME_IMAGES: ' node=node:20-bookworm-slim, python = python:3.12-slim ,' });
    expect(config.runtimeImages).to.deep.equal({ node: 'node:20-bookworm-slim', python: 'python:3.12-slim' });
  });

  const caCases: [string, NodeJS.ProcessEnv, string | undefined][] = [
    ['neither set', {}, undefined],
    ['only NODE_EXTRA_CA_CERTS', { NODE_EXTRA_CA_CERTS: '/etc/ssl/node.pem' }, '/etc/ssl/node.pem'],
    ['only GASPER_EXTRA_CA_CERTS', { GASPER_EXTRA_CA_CERTS: '/etc/ssl/gasper.pem' }, '/etc/ssl/gasper.pem'],
    [
      'both set',
      { GASPER_EXTRA_CA_CERTS: '/etc/ssl/gasper.pem', NODE_EXTRA_CA_CERTS: '/etc/ssl/node.pem' },
      '/etc/ssl/gasper.pem',
    ],
    [
      'GASPER_EXTRA_CA_CERTS blank',
      { GASPER_EXTRA_CA_CERTS: ' ', NODE_EXTRA_CA_CERTS: '/etc/ssl/node.pem' },
      '/etc/ssl/node.pem',
    ],
  ];
  for (const [why, env, expected] of caCases) {
    it(`extraCaCerts with ${why}`, () => {
      expect(loadConfig(env).extraCaCerts).to.equal(expected);
    });
  }

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).to.equal(true);
    // Modules are strict mode, so writing to a frozen object throws.
    expect(() => {
      (config as { domain: string }).domain = 'evil.com';
    }).to.throw(TypeError);
  });

  it('freezes nested settings too', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config.api)).to.equal(true);
    expect(Object.isFrozen(config.runtimeImages)).to.equal(true);
  });

  it('reads an empty variable as unset, not as zero', () => {
    const config = loadConfig({ GASPER_API_PORT: '', GASPER_PROXY_PORT: ' ', GASPER_DOMAIN: '' });
    expect(config.api.port).to.equal(3000);
    expect(config.proxy.port).to.equal(8080);
    expect(config.domain).to.equal('localhost');
  });

  it('reads the lifecycle settings, with defaults', () => {
    expect(loadConfig({}).lifecycle).to.deep.equal({
      keepReleases: 5,
      resources: {
        defaultCpu: 1,
        defaultMemoryMb: 512,
        maxCpu: 4,
        maxMemoryMb: 4096,
        maxInstances: 10,
        pidsLimit: 1024,
      },
      drainGraceMs: 1000,
      drainTimeoutMs: 30_000,
      stopTimeoutS: 10,
      healthIntervalMs: 5000,
      healthFailures: 3,
      restartBackoffMs: 1000,
      restartBackoffMaxMs: 60_000,
      crashLoopRestarts: 5,
      crashLoopWindowMs: 600_000,
      build: { cpu: 1, memoryMb: 1024, pidsLimit: 1024 },
      disk: { tmpMb: 128, appMb: 4096, checkIntervalMs: 15_000, minFreeMb: 1024, useIntervalMs: 300_000 },
    });
    const config = loadConfig({
      GASPER_KEEP_RELEASES: '2',
      GASPER_MAX_MEMORY_MB: '1024',
      GASPER_DEFAULT_MEMORY_MB: '128',
    });
    expect(config.lifecycle.keepReleases).to.equal(2);
    expect(config.lifecycle.resources).to.include({ maxMemoryMb: 1024, defaultMemoryMb: 128 });
  });
});

describe('loadConfig: GASPER_API_URL', () => {
  it('is the public URL webhook URLs are built on, without a trailing slash', () => {
    expect(loadConfig({ GASPER_API_URL: 'https://gasper.example.com/' }).api.publicUrl).to.equal(
      'https://gasper.example.com',
    );
    expect(loadConfig({}).api).to.not.have.property('publicUrl');
  });
  it('must be an http(s) URL', () => {
    expect(() => loadConfig({ GASPER_API_URL: 'ftp://x' })).to.throw(/GASPER_API_URL/);
    expect(() => loadConfig({ GASPER_API_URL: 'not a url' })).to.throw(/GASPER_API_URL/);
  });
});

describe('loadConfig: GASPER_TRUSTED_PROXIES', () => {
  it('is empty by default: no forwarded header is believed', () => {
    expect(loadConfig({}).trustedProxies).to.deep.equal([]);
  });
  it('takes addresses, CIDRs and the named ranges', () => {
    expect(
      loadConfig({ GASPER_TRUSTED_PROXIES: '10.0.0.5, 192.168.0.0/16,::1,fd00::/8,loopback' }).trustedProxies,
    ).to.deep.equal(['10.0.0.5', '192.168.0.0/16', '::1', 'fd00::/8', 'loopback']);
  });
  for (const value of ['10.0.0.300', 'proxy.example.com', '10.0.0.0/33', 'everything']) {
    it(`rejects ${JSON.stringify(value)} naming the variable`, () => {
      expect(() => loadConfig({ GASPER_TRUSTED_PROXIES: value })).to.throw(/^GASPER_TRUSTED_PROXIES: /);
    });
  }
});
