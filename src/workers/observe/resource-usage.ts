/**
 * CPU and memory of a container from Docker's stats. Pure, unit-tested in
 * test/workers/observe/resource-usage.unit.test.ts.
 */

/** The fields of Docker's `cpu_stats` / `precpu_stats` this module reads. */
export interface CpuStats {
  /** Absent in the stats of a container that has just stopped. */
  cpu_usage?: { total_usage: number; percpu_usage?: number[] };
  /** Host CPU time over all CPUs (ns); absent in an empty `precpu_stats`. */
  system_cpu_usage?: number;
  online_cpus?: number;
}

/** The fields of Docker's `memory_stats` this module reads (cgroup v1 or v2). */
export interface MemoryStats {
  usage?: number;
  limit?: number;
  stats?: { cache?: number; inactive_file?: number; total_inactive_file?: number };
}

/** The CPU limit of a container, from its HostConfig. */
export interface CpuLimitConfig {
  NanoCpus?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  CpusetCpus?: string;
}

export interface CpuUsage {
  /** CPU used over the interval, in cores (0.5 = half of one core). */
  cores: number;
  /** The cores the container may use: its limit, or the host's CPUs when it has none. */
  limitCores: number;
  /** `cores` as a percentage of `limitCores`. */
  percent: number;
}

export interface MemoryUsage {
  /** Usage minus the page cache the kernel can reclaim (what `docker stats` shows). */
  usageBytes: number;
  /** The container's limit, or the host's memory when it has none. */
  limitBytes: number;
  percent: number;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Number of CPUs in a cpuset such as `0-2,4` (undefined for an empty one). */
export function cpusetSize(cpuset: string | undefined): number | undefined {
  if (!cpuset?.trim()) return undefined;
  let count = 0;
  for (const part of cpuset.split(',')) {
    const [from, to] = part.trim().split('-').map(Number);
    if (from === undefined || Number.isNaN(from)) return undefined;
    const end = to === undefined ? from : to;
    if (Number.isNaN(end) || end < from) return undefined;
    count += end - from + 1;
  }
  return count;
}

/** Cores a container is limited to: `--cpus`, a CFS quota, or a cpuset; undefined when unlimited. */
export function cpuLimitCores(config: CpuLimitConfig): number | undefined {
  const limits: number[] = [];
  if (config.NanoCpus && config.NanoCpus > 0) limits.push(config.NanoCpus / 1e9);
  if (config.CpuQuota && config.CpuQuota > 0 && config.CpuPeriod && config.CpuPeriod > 0)
    limits.push(config.CpuQuota / config.CpuPeriod);
  const cpuset = cpusetSize(config.CpusetCpus);
  if (cpuset) limits.push(cpuset);
  return limits.length ? Math.min(...limits) : undefined;
}

/**
 * CPU use between two cumulative samples (`docker stats` gives both: `precpu_stats` and
 * `cpu_stats`): the container's CPU time over the host's, times the host's CPUs, is cores used.
 * Undefined when the samples cannot be compared (no earlier sample, a counter reset).
 */
export function cpuUsage(previous: CpuStats, current: CpuStats, limitCores?: number): CpuUsage | undefined {
  if (!previous.cpu_usage || !current.cpu_usage) return undefined;
  const cpuDelta = current.cpu_usage.total_usage - previous.cpu_usage.total_usage;
  const systemDelta = (current.system_cpu_usage ?? 0) - (previous.system_cpu_usage ?? 0);
  if (!previous.system_cpu_usage || !(systemDelta > 0) || cpuDelta < 0) return undefined;
  const hostCpus = current.online_cpus || current.cpu_usage.percpu_usage?.length || 1;
  const cores = Math.min((cpuDelta / systemDelta) * hostCpus, hostCpus);
  const limit = limitCores && limitCores < hostCpus ? limitCores : hostCpus;
  return { cores: round(cores, 4), limitCores: round(limit, 4), percent: round((cores / limit) * 100, 2) };
}

/** Memory in use without reclaimable cache (cgroup v1: total_inactive_file, v2: inactive_file). */
export function memoryUsage(stats: MemoryStats): MemoryUsage | undefined {
  if (stats.usage === undefined || !stats.limit) return undefined;
  const cache = stats.stats?.total_inactive_file ?? stats.stats?.inactive_file ?? stats.stats?.cache ?? 0;
  const usage = cache < stats.usage ? stats.usage - cache : stats.usage;
  return { usageBytes: usage, limitBytes: stats.limit, percent: round((usage / stats.limit) * 100, 2) };
}
