import { nodeStateAt } from './node-health.ts';

/**
 * What a reader of a job or a database needs to know about the node it is bound to: is it up,
 * is it draining, since when is it silent. Pure: tested in test/core/node-condition.unit.test.ts.
 */
export interface NodeCondition {
  id: string;
  /** `unknown`: no node of that id is registered (it never started, or its document was removed). */
  state: 'up' | 'down' | 'unknown';
  draining: boolean;
  /** The node's last heartbeat: when it went silent, if it is down. */
  heartbeatAt: string | null;
}

export function nodeCondition(
  id: string,
  node: { heartbeatAt: string } | undefined,
  context: { now: number; timeoutMs: number; draining: ReadonlySet<string> },
): NodeCondition {
  return {
    id,
    state: node ? nodeStateAt(node.heartbeatAt, context.now, context.timeoutMs) : 'unknown',
    draining: context.draining.has(id),
    heartbeatAt: node?.heartbeatAt ?? null,
  };
}

/** `node b-1 is down (no heartbeat since 2025-01-01T00:00:00.000Z)`, for messages. */
export function describeNodeDown(node: Pick<NodeCondition, 'id' | 'state' | 'heartbeatAt'>): string {
  if (node.state === 'unknown' || !node.heartbeatAt) return `node ${node.id} is not registered`;
  return `node ${node.id} is down (no heartbeat since ${node.heartbeatAt})`;
}

/** Why a database stays on its node when the node is drained or lost: its data lives there. */
export const databaseStaysReason =
  'its data is in a Docker volume on this node, and Gasper does not move databases: to move one, download a backup (kept in Redis) and load it into a new database';
