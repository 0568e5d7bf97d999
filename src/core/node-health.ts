import type { CandidateNode, Holder } from './place-instances.ts';

/**
 * Node liveness and what placement may use, decided from timestamps and documents alone. Pure:
 * tested in test/core/node-health.unit.test.ts.
 */

export type NodeState = 'up' | 'down';

/** Down once its last heartbeat is older than `timeoutMs`; an unreadable timestamp counts as down. */
export function nodeStateAt(heartbeatAt: string, now: number, timeoutMs: number): NodeState {
  const at = Date.parse(heartbeatAt);
  return Number.isFinite(at) && now - at <= timeoutMs ? 'up' : 'down';
}

export interface NodeTransition {
  node: string;
  from: NodeState | undefined;
  to: NodeState;
}

/**
 * The nodes whose state differs from the one recorded (`recorded`: node → state, absent when
 * never decided). A node seen for the first time is reported only when down, so that a platform
 * starting up does not announce every node.
 */
export function nodeTransitions(
  nodes: readonly { id: string; heartbeatAt: string }[],
  recorded: ReadonlyMap<string, string>,
  now: number,
  timeoutMs: number,
): NodeTransition[] {
  const changes: NodeTransition[] = [];
  for (const node of nodes) {
    const to = nodeStateAt(node.heartbeatAt, now, timeoutMs);
    const before = recorded.get(node.id);
    const from = before === 'up' || before === 'down' ? before : undefined;
    if (from === to || (from === undefined && to === 'up')) continue;
    changes.push({ node: node.id, from, to });
  }
  return changes;
}

/** What an app asks of the node it runs on: all of its instances' limits together. */
export interface AppDemand {
  node: string;
  /** What holds it (`app blog`, `database cache`): a refusal names the biggest holders. */
  holder?: string;
  cpu: number;
  memoryBytes: number;
}

/**
 * The nodes as placement sees them. What is allocated on a node comes from the desired state
 * (the apps placed there), not from its last heartbeat, so two placements a second apart both
 * see the first one.
 */
export function candidateNodes(
  nodes: readonly { id: string; heartbeatAt: string; capacity: { cpus: number; memoryBytes: number } }[],
  context: {
    now: number;
    timeoutMs: number;
    draining: ReadonlySet<string>;
    demands: readonly AppDemand[];
    /**
     * CPU limits promised per core. A CPU limit caps a container, it reserves nothing: most apps
     * idle, so a node takes more limits than cores (OpenStack's default ratio is 16). Memory is
     * never over-committed: its limit is hard, and exceeding the host's means OOM kills. Default 1.
     */
    cpuOvercommit?: number;
  },
): CandidateNode[] {
  const ratio = context.cpuOvercommit ?? 1;
  const allocated = new Map<string, { cpu: number; memoryBytes: number }>();
  const holders = new Map<string, Map<string, Holder>>();
  for (const d of context.demands) {
    const a = allocated.get(d.node) ?? { cpu: 0, memoryBytes: 0 };
    a.cpu += d.cpu;
    a.memoryBytes += d.memoryBytes;
    allocated.set(d.node, a);
    if (d.holder === undefined) continue;
    const onNode = holders.get(d.node) ?? new Map<string, Holder>();
    const h = onNode.get(d.holder) ?? { name: d.holder, cpu: 0, memoryBytes: 0 };
    h.cpu += d.cpu;
    h.memoryBytes += d.memoryBytes;
    onNode.set(d.holder, h);
    holders.set(d.node, onNode);
  }
  return nodes.map((n) => ({
    id: n.id,
    capacity: { cpus: n.capacity.cpus * ratio, memoryBytes: n.capacity.memoryBytes },
    allocated: allocated.get(n.id) ?? { cpu: 0, memoryBytes: 0 },
    ...(holders.has(n.id) ? { holders: [...holders.get(n.id)!.values()] } : {}),
    alive: nodeStateAt(n.heartbeatAt, context.now, context.timeoutMs) === 'up',
    draining: context.draining.has(n.id),
  }));
}
