import fs from 'node:fs/promises';
import os from 'node:os';
import type Docker from 'dockerode';
import type { DockerScope } from '../../core/installation.ts';
import { listManaged } from '../../docker/containers.ts';
import type { DiskUse } from '../../store/nodes.ts';

/** What a heartbeat reports beyond liveness (see store/nodes.ts). */
export interface NodeMeasurements {
  diskBytes?: number;
  usage: { load1PerCpu: number; memoryUsedBytes: number; diskFreeBytes?: number };
  allocations?: { containers: number; cpu: number; memoryBytes: number };
  /** The latest measure by category (disk-use.ts), taken apart from the heartbeat. */
  diskUse?: DiskUse;
}

/** Disk of the filesystem holding the state directory; undefined where statfs fails. */
async function disk(stateDir: string): Promise<{ total: number; free: number } | undefined> {
  try {
    const s = await fs.statfs(stateDir);
    return { total: s.blocks * s.bsize, free: s.bavail * s.bsize };
  } catch {
    return undefined;
  }
}

/**
 * The limits Docker enforces on Gasper's running containers on this node: CPUs (NanoCpus) and
 * memory. A container without a limit counts as a container only.
 */
export async function dockerAllocations(
  docker: Docker,
  scope: DockerScope,
): Promise<NonNullable<NodeMeasurements['allocations']>> {
  const running = (await listManaged(docker, scope)).filter((c) => c.State === 'running');
  const inspected = await Promise.all(
    running.map((c) =>
      docker
        .getContainer(c.Id)
        .inspect()
        .catch(() => undefined),
    ),
  );
  let cpu = 0;
  let memoryBytes = 0;
  for (const info of inspected) {
    cpu += (info?.HostConfig.NanoCpus ?? 0) / 1e9;
    memoryBytes += info?.HostConfig.Memory ?? 0;
  }
  return { containers: running.length, cpu, memoryBytes };
}

export async function measureNode(
  stateDir: string,
  allocations?: () => Promise<NodeMeasurements['allocations']>,
): Promise<NodeMeasurements> {
  const [d, a] = await Promise.all([disk(stateDir), allocations?.().catch(() => undefined)]);
  return {
    ...(d ? { diskBytes: d.total } : {}),
    usage: {
      load1PerCpu: Math.round((os.loadavg()[0]! / Math.max(1, os.cpus().length)) * 100) / 100,
      memoryUsedBytes: os.totalmem() - os.freemem(),
      ...(d ? { diskFreeBytes: d.free } : {}),
    },
    ...(a ? { allocations: a } : {}),
  };
}
