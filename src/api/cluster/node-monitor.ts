import type { Logger } from '../../core/log.ts';
import { nodeStateAt, nodeTransitions } from '../../core/node-health.ts';
import { publishEvent } from '../../events/stream.ts';
import type { ApiDeps } from '../deps.ts';
import { startJobFailover } from './job-failover.ts';
import { moveAppsOff } from './node-placement.ts';
import { applyAppJsonFormations } from '../app-json-formation.ts';

export interface NodeMonitorOptions {
  /** Silence after which a node is down (GASPER_NODE_TIMEOUT_MS). */
  timeoutMs: number;
  /** How often heartbeats are checked. Default: a third of the timeout, at most 5 s. */
  intervalMs?: number;
}

export interface NodeMonitorHandle {
  /** One check now (tests; the timer calls it too). */
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Watches heartbeats from the API process. On a change it records the node's state and publishes
 * a `node.state` event (the proxy stops routing to a down node). While a node is down, its apps
 * are moved to live nodes, every check, until none is left (level-based: an app that found no
 * room is tried again). The state is swapped atomically in Redis, so with several API processes
 * one publishes each change; moving is safe to repeat.
 */
export function startNodeMonitor(
  options: NodeMonitorOptions,
  deps: Pick<ApiDeps, 'apps' | 'nodes' | 'enqueue' | 'redis' | 'options' | 'users'>,
  log: Logger,
): NodeMonitorHandle {
  const intervalMs = options.intervalMs ?? Math.min(5000, Math.max(200, Math.floor(options.timeoutMs / 3)));
  let running: Promise<void> | undefined;
  // The jobs left in a down node's queue: ended when their app moved, kept waiting otherwise.
  const failover = startJobFailover({ intervalMs, timeoutMs: options.timeoutMs }, deps, log);

  async function checkOnce(): Promise<void> {
    const now = Date.now();
    const nodes = await deps.nodes.list();
    const recorded = await deps.nodes.states(nodes.map((n) => n.id));
    for (const change of nodeTransitions(nodes, recorded, now, options.timeoutMs)) {
      const previous = await deps.nodes.swapState(change.node, change.to);
      if (previous === change.to) continue; // another API process announced it first
      const node = nodes.find((n) => n.id === change.node)!;
      await publishEvent(deps.redis, { type: 'node.state', node: node.id, state: change.to, address: node.address });
      log[change.to === 'down' ? 'warn' : 'info'](
        { node: node.id, heartbeatAt: node.heartbeatAt },
        `node is ${change.to}`,
      );
    }
    for (const node of nodes) {
      if (nodeStateAt(node.heartbeatAt, now, options.timeoutMs) !== 'down') continue;
      const report = await moveAppsOff(deps, node.id, log);
      if (report.unplaced.length)
        log.warn({ node: node.id, unplaced: report.unplaced }, 'apps of a down node found no other node');
    }
    await failover.check(nodes.filter((n) => nodeStateAt(n.heartbeatAt, now, options.timeoutMs) === 'down'));
    // Placement is decided here: the app.json formations first deploys asked for are applied here too.
    await applyAppJsonFormations(deps, log);
  }

  const check = () => {
    running ??= checkOnce()
      .catch((err) => log.warn({ err }, 'node check failed'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  let closing: Promise<void> | undefined;
  return {
    check,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await running;
        await failover.close();
      })();
      return closing;
    },
  };
}
