import { expect } from 'chai';
import {
  holderPidsLimit,
  nestingProblem,
  pidsCgroupOf,
  pidsLimitMessage,
  reachedLimit,
} from '../../../src/workers/apps/build-pids-plan.ts';

describe('build-pids-plan: holding a Dockerfile build to GASPER_BUILD_PIDS_LIMIT (pure)', () => {
  it('nests a build only on cgroup v1 with the cgroupfs driver, and says why not otherwise', () => {
    expect(nestingProblem({ CgroupVersion: '1', CgroupDriver: 'cgroupfs' })).to.equal(undefined);
    expect(nestingProblem({ CgroupVersion: '2', CgroupDriver: 'systemd' })).to.include('driver is systemd');
    expect(nestingProblem({ CgroupVersion: '1', CgroupDriver: 'systemd' })).to.include('driver is systemd');
    expect(nestingProblem({ CgroupVersion: '2', CgroupDriver: 'cgroupfs' })).to.include('cgroup v2');
    expect(nestingProblem({})).to.include('driver is unknown');
  });

  const id = 'b89d9d128aef432b6626673823cdb8796c50b13a8b611ba57970005b31c6d6f2';
  const cases: [string, string, string | undefined][] = [
    [
      'the pids line of cgroup v1',
      `9:name=systemd:/docker/${id}\n8:pids:/docker/${id}\n4:memory:/docker/${id}\n`,
      `/docker/${id}`,
    ],
    ['pids sharing a hierarchy', `3:cpu,pids:/x/${id}\n`, `/x/${id}`],
    ['a private namespace shows only /', '8:pids:/\n0::/\n', undefined],
    ['cgroup v2 has no pids line', '0::/\n', undefined],
    ['nothing', '', undefined],
  ];
  for (const [title, text, cgroup] of cases)
    it(`finds the holder's cgroup: ${title}`, () => expect(pidsCgroupOf(text)).to.equal(cgroup));

  it('gives the holder one more than the limit, for its own process, and tells a reached limit from its peak', () => {
    expect(holderPidsLimit(100)).to.equal(101);
    expect(reachedLimit('101\n', 100)).to.equal(true);
    expect(reachedLimit('40\n', 100)).to.equal(false);
    expect(reachedLimit('', 100)).to.equal(undefined);
    expect(pidsLimitMessage(100, 'the Docker build failed: x')).to.equal(
      'the build reached its process limit (100 processes and threads, GASPER_BUILD_PIDS_LIMIT): the Docker build failed: x',
    );
  });
});
