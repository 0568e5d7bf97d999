import os from 'node:os';
import type { Logger } from '../../core/log.ts';
import type { NodeStore } from '../../store/nodes.ts';
import type { NodeMeasurements } from './usage.ts';

/** Registers the node and refreshes its document every `intervalMs`; the API places only on fresh ones. */
export async function startHeartbeat(
  nodes: NodeStore,
  node: { id: string; address: string; docker?: string },
  intervalMs: number,
  log: Logger,
  /** Disk, usage and allocations to report with each beat (node-usage.ts). */
  measure?: () => Promise<NodeMeasurements>,
): Promise<{ close(): void }> {
  const startedAt = new Date().toISOString();
  const beat = async () => {
    const m = await measure?.().catch((err) => void log.warn({ err }, 'node measurement failed'));
    await nodes.put({
      id: node.id,
      address: node.address,
      ...(node.docker ? { docker: node.docker } : {}),
      capacity: {
        cpus: os.cpus().length,
        memoryBytes: os.totalmem(),
        ...(m?.diskBytes !== undefined ? { diskBytes: m.diskBytes } : {}),
      },
      ...(m ? { usage: m.usage } : {}),
      ...(m?.allocations ? { allocations: m.allocations } : {}),
      ...(m?.diskUse ? { diskUse: m.diskUse } : {}),
      startedAt,
      heartbeatAt: new Date().toISOString(),
    });
  };
  await beat();
  const timer = setInterval(() => beat().catch((err) => log.warn({ err }, 'heartbeat failed')), intervalMs);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
