import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/core/config.ts';

describe('SSH configuration', () => {
  it('defaults to port 2222 on all addresses, no advertised Docker endpoint', () => {
    const config = loadConfig({});
    expect(config.ssh).to.deep.equal({ host: '0.0.0.0', port: 2222 });
    expect(config.nodeDockerHost).to.equal(undefined);
  });

  it('reads GASPER_SSH_PORT, GASPER_SSH_HOST and GASPER_NODE_DOCKER_HOST', () => {
    const config = loadConfig({
      GASPER_SSH_PORT: '22',
      GASPER_SSH_HOST: '127.0.0.1',
      GASPER_NODE_DOCKER_HOST: 'tcp://198.51.100.2:2376',
    });
    expect(config.ssh).to.deep.equal({ host: '127.0.0.1', port: 22 });
    expect(config.nodeDockerHost).to.equal('tcp://198.51.100.2:2376');
  });

  for (const [variable, value] of [
    ['GASPER_SSH_PORT', '70000'],
    ['GASPER_SSH_PORT', 'ssh'],
    ['GASPER_NODE_DOCKER_HOST', '198.51.100.2:2376'],
  ]) {
    it(`refuses ${variable}=${value}, naming it`, () => {
      expect(() => loadConfig({ [variable!]: value })).to.throw(ConfigError, new RegExp(`^${variable}: `));
    });
  }
});
