import { expect } from 'chai';
import { benchPlatformEnv } from '../../bench/support/platform-env.ts';
import { envSchema } from '../../src/core/config.ts';

describe('benchmarks run beside another Gasper', function () {
  it('listen on a free port (0) on loopback for every port setting the platform has', function () {
    const env = benchPlatformEnv('/tmp/x', 'a-token-of-sixteen-chars');
    // Every listening port the configuration knows, read from the schema so a new service counts.
    const ports = Object.keys(envSchema.shape).filter((k) => /_PORT$/.test(k) && k !== 'GASPER_PROXY_METRICS_PORT');
    expect(ports).to.include.members(['GASPER_API_PORT', 'GASPER_PROXY_PORT', 'GASPER_SSH_PORT', 'GASPER_DNS_PORT']);
    for (const key of ports) {
      expect(env[key], key).to.equal('0');
      expect(env[key.replace(/_PORT$/, '_HOST')], key.replace(/_PORT$/, '_HOST')).to.equal('127.0.0.1');
    }
  });
});
