import crypto from 'node:crypto';
import { expect } from 'chai';
import { appNetwork, defaultNetworkPool, ensureBridgeNetwork } from '../../src/docker/networks.ts';
import { docker, requireDocker } from '../support/docker.ts';

describe('app networks (Docker)', function () {
  this.timeout(60_000);
  const scope = {
    installation: crypto.randomBytes(4).toString('hex'),
    node: `t-${crypto.randomBytes(3).toString('hex')}`,
  };
  const network = appNetwork(scope, 'net-test', crypto.randomBytes(5).toString('hex'), defaultNetworkPool);

  before(requireDocker);
  after(async () => {
    await docker
      .getNetwork(network.name)
      .remove()
      .catch(() => undefined);
  });

  // A deploy asks for its network beside the clone, and its build asks again: before they shared
  // one creation, the second picked the same subnet and bridge and the daemon answered 403.
  it('makes one network for callers asking at once, each given its id', async () => {
    const ids = await Promise.all(Array.from({ length: 5 }, () => ensureBridgeNetwork(docker, network)));
    const found = await docker.listNetworks({ filters: { name: [network.name] } });
    const exact = found.filter((n) => n.Name === network.name);
    expect(exact).to.have.length(1);
    expect(new Set(ids)).to.deep.equal(new Set([exact[0]!.Id]));
    // Asked again once it exists: the same one.
    expect(await ensureBridgeNetwork(docker, network)).to.equal(exact[0]!.Id);
  });
});
