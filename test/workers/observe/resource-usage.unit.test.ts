import { expect } from 'chai';
import {
  cpuLimitCores,
  cpusetSize,
  cpuUsage,
  memoryUsage,
  type CpuStats,
} from '../../../src/workers/observe/resource-usage.ts';

const stats = (total: number, system: number | undefined, online = 4): CpuStats => ({
  cpu_usage: { total_usage: total },
  system_cpu_usage: system,
  online_cpus: online,
});

describe('resource-usage', () => {
  describe('cpuUsage', () => {
    it('turns two cumulative readings into cores used and a share of the host when unlimited', () => {
      // 4 CPUs: the host clock advanced 4 s of CPU time while the container used 1 s: one core.
      expect(cpuUsage(stats(1e9, 100e9), stats(2e9, 104e9))).to.deep.equal({ cores: 1, limitCores: 4, percent: 25 });
    });

    it("is a share of the container's limit when it has one", () => {
      expect(cpuUsage(stats(0, 100e9), stats(0.25e9, 104e9), 0.5)).to.deep.equal({
        cores: 0.25,
        limitCores: 0.5,
        percent: 50,
      });
    });

    it("ignores a limit above the host's CPUs", () => {
      expect(cpuUsage(stats(0, 100e9, 2), stats(1e9, 102e9, 2), 8)).to.deep.equal({
        cores: 1,
        limitCores: 2,
        percent: 50,
      });
    });

    it('is a rate, whatever the cumulative total', () => {
      const idle = cpuUsage(stats(5_000e9, 100e9), stats(5_000e9, 104e9));
      expect(idle).to.deep.equal({ cores: 0, limitCores: 4, percent: 0 });
    });

    it('counts CPUs from percpu_usage when online_cpus is missing', () => {
      const before: CpuStats = { cpu_usage: { total_usage: 0, percpu_usage: [0, 0] }, system_cpu_usage: 10e9 };
      const after: CpuStats = { cpu_usage: { total_usage: 1e9, percpu_usage: [1e9, 0] }, system_cpu_usage: 12e9 };
      expect(cpuUsage(before, after)?.percent).to.equal(50);
    });

    it('is undefined without an earlier reading, or across a counter reset', () => {
      expect(cpuUsage(stats(0, undefined), stats(1e9, 104e9))).to.equal(undefined);
      expect(cpuUsage(stats(0, 0), stats(1e9, 104e9))).to.equal(undefined);
      expect(cpuUsage(stats(5e9, 100e9), stats(1e9, 104e9))).to.equal(undefined);
      expect(cpuUsage(stats(1e9, 104e9), stats(2e9, 104e9))).to.equal(undefined);
    });
    it('is undefined for a container that has just stopped (empty cpu_stats)', () => {
      expect(cpuUsage(stats(1e9, 100e9), {})).to.equal(undefined);
      expect(cpuUsage({}, stats(1e9, 100e9))).to.equal(undefined);
    });
  });

  describe('cpuLimitCores', () => {
    const cases: [Parameters<typeof cpuLimitCores>[0], number | undefined][] = [
      [{}, undefined],
      [{ NanoCpus: 0, CpuQuota: 0, CpuPeriod: 0, CpusetCpus: '' }, undefined],
      [{ NanoCpus: 1_500_000_000 }, 1.5],
      [{ CpuQuota: 50_000, CpuPeriod: 100_000 }, 0.5],
      [{ CpuQuota: -1, CpuPeriod: 100_000 }, undefined],
      [{ CpusetCpus: '0-2,5' }, 4],
      [{ NanoCpus: 3e9, CpusetCpus: '0' }, 1],
    ];
    for (const [config, expected] of cases) {
      it(`${JSON.stringify(config)} → ${expected}`, () => expect(cpuLimitCores(config)).to.equal(expected));
    }
    it('rejects a malformed cpuset', () => {
      expect(cpusetSize('a-b')).to.equal(undefined);
      expect(cpusetSize('3-1')).to.equal(undefined);
    });
  });

  describe('memoryUsage', () => {
    it('subtracts reclaimable cache: inactive_file on cgroup v2', () => {
      expect(memoryUsage({ usage: 100, limit: 400, stats: { inactive_file: 20 } })).to.deep.equal({
        usageBytes: 80,
        limitBytes: 400,
        percent: 20,
      });
    });
    it('total_inactive_file on cgroup v1, else cache', () => {
      expect(
        memoryUsage({ usage: 100, limit: 1000, stats: { total_inactive_file: 50, cache: 90 } })?.usageBytes,
      ).to.equal(50);
      expect(memoryUsage({ usage: 100, limit: 1000, stats: { cache: 90 } })?.usageBytes).to.equal(10);
    });
    it('never goes negative, and is undefined without a reading', () => {
      expect(memoryUsage({ usage: 10, limit: 100, stats: { inactive_file: 50 } })?.usageBytes).to.equal(10);
      expect(memoryUsage({})).to.equal(undefined);
      expect(memoryUsage({ usage: 10, limit: 0 })).to.equal(undefined);
    });
  });
});
