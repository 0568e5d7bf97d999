import { expect } from 'chai';
import { defaultResourcePolicy, dockerLimits, resolveResources } from '../../src/core/resources.ts';
import { containerSpec } from '../../src/workers/apps/container-spec.ts';

describe('resources', () => {
  it('fills what the app did not ask for from the defaults', () => {
    expect(resolveResources(undefined, defaultResourcePolicy)).to.deep.equal({ cpu: 1, memoryMb: 512 });
    expect(resolveResources({ memory: 64 }, defaultResourcePolicy)).to.deep.equal({ cpu: 1, memoryMb: 64 });
    expect(resolveResources({ cpu: 0.25 }, defaultResourcePolicy)).to.deep.equal({ cpu: 0.25, memoryMb: 512 });
  });

  it('turns them into Docker limits with swap disabled and a pids limit', () => {
    expect(dockerLimits({ cpu: 0.5, memoryMb: 64 }, 256)).to.deep.equal({
      Memory: 64 * 1024 * 1024,
      MemorySwap: 64 * 1024 * 1024,
      NanoCpus: 500_000_000,
      PidsLimit: 256,
    });
  });

  it('puts them into app container specs, keeping no-new-privileges and no capabilities', () => {
    const spec = containerSpec({
      name: 'c',
      image: 'i',
      app: 'a',
      release: 'r000001',
      installation: 'a1b2c3d4',
      node: 'n',
      role: 'app',
      releaseDir: '/x',
      command: 'x',
      port: 8080,
      env: {},
      publishAddress: '127.0.0.1',
      resources: { cpu: 2, memoryMb: 128 },
      pidsLimit: 100,
    });
    expect(spec.HostConfig).to.include({
      Memory: 128 * 1024 ** 2,
      MemorySwap: 128 * 1024 ** 2,
      NanoCpus: 2e9,
      PidsLimit: 100,
    });
    expect(spec.HostConfig?.SecurityOpt).to.deep.equal(['no-new-privileges']);
    expect(spec.HostConfig?.CapDrop).to.deep.equal(['ALL']);
    expect(spec.HostConfig?.RestartPolicy).to.deep.equal({ Name: 'no' });
  });
});
