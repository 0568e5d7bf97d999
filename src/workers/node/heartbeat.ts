import os from 'node:os';
import type { Logger } from '../../core/log.ts';
import type { NodeStore } from '../../store/nodes.ts';
import type { NodeMeasurements } from './usage.ts';

/**
 * Registers the node and refreshes its document every `intervalMs`; the API places only on fresh
 * ones. A beat never waits for Docker: measuring lists and inspects containers, which a busy
 * daemon answers in seconds (an inspect waits while a container is being removed), and a late
 * beat makes the API count the node down and settle its jobs without it. So each beat reports
 * the latest measure and starts the next one unless one is under way.
 */
export async function startHeartbeat(
  nodes: NodeStore,
  node: { id: string; address: string; docker?: string },
  intervalMs: number,
  log: Logger,
  /** Disk, usage and allocations to report with each beat (node-usage.ts). */
  measure?: () => Promise<NodeMeasurements>,
): Promise<{ close(): void }> {
  const startedAt = new Date().toISOString();
  let latest: NodeMeasurements | undefined;
  let measuring: Promise<void> | undefined;
  const remeasure = () => {
    measuring ??= (measure?.() ?? Promise.resolve(undefined))
      .then(
        (m) => {
          if (m) latest = m;
        },
        (err) => void log.warn({ err }, 'node measurement failed'),
      )
      .finally(() => {
        measuring = undefined;
      });
    return measuring;
  };
  const beat = async () => {
    void remeasure();
    const m = latest;
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
  await remeasure(); // the first beat registers the node with its capacity
  await beat();
  const timer = setInterval(() => beat().catch((err) => log.warn({ err }, 'heartbeat failed')), intervalMs);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
