import os from 'node:os';
import type { Logger } from '../core/log.ts';
import type { NodeStore } from '../store/nodes.ts';

/** Registers the node and refreshes its document every `intervalMs`; the API places only on fresh ones. */
export async function startHeartbeat(
  nodes: NodeStore,
  node: { id: string; address: string; docker?: string },
  intervalMs: number,
  log: Logger,
): Promise<{ close(): void }> {
  const startedAt = new Date().toISOString();
  const beat = () =>
    nodes.put({
      id: node.id,
      address: node.address,
      ...(node.docker ? { docker: node.docker } : {}),
      capacity: { cpus: os.cpus().length, memoryBytes: os.totalmem() },
      startedAt,
      heartbeatAt: new Date().toISOString(),
    });
  await beat();
  const timer = setInterval(() => beat().catch((err) => log.warn({ err }, 'heartbeat failed')), intervalMs);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
