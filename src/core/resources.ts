/**
 * Container limits: the defaults an app gets and the maximum an admin allows (configuration),
 * and the Docker HostConfig fields they become. Pure: unit-tested in
 * test/core/resources.unit.test.ts.
 */
export interface ResourcePolicy {
  /** Default CPU cores per instance. */
  defaultCpu: number;
  /** Default memory per instance, MiB. */
  defaultMemoryMb: number;
  maxCpu: number;
  maxMemoryMb: number;
  maxInstances: number;
  /** Processes (threads included) one container may run: stops fork bombs. */
  pidsLimit: number;
}

export const defaultResourcePolicy: Readonly<ResourcePolicy> = Object.freeze({
  defaultCpu: 1,
  defaultMemoryMb: 512,
  maxCpu: 4,
  maxMemoryMb: 4096,
  maxInstances: 10,
  pidsLimit: 256,
});

/** Docker refuses memory limits below 6 MiB; below 32 MiB no runtime image starts anyway. */
export const minMemoryMb = 32;
export const minCpu = 0.05;

export interface ResolvedResources {
  cpu: number;
  memoryMb: number;
}

export function resolveResources(
  requested: { cpu?: number; memory?: number } | undefined,
  policy: ResourcePolicy,
): ResolvedResources {
  return { cpu: requested?.cpu ?? policy.defaultCpu, memoryMb: requested?.memory ?? policy.defaultMemoryMb };
}

/** The HostConfig limits: memory without swap, CPU as NanoCpus, a pids limit. */
export function dockerLimits(resources: ResolvedResources, pidsLimit: number) {
  const memory = resources.memoryMb * 1024 * 1024;
  return { Memory: memory, MemorySwap: memory, NanoCpus: Math.round(resources.cpu * 1e9), PidsLimit: pidsLimit };
}
