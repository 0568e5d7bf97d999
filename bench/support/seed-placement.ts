/** The seed system's placement, kept as bench/placement's baseline: the live node with the fewest apps. Pure. */
export interface PlacementNode {
  id: string;
  heartbeatAt: string;
}

export interface PlacementOptions {
  now: number;
  /** A node whose last heartbeat is older than this is not placed on. */
  heartbeatTimeoutMs: number;
  /** Apps already placed per node id, to spread new ones. */
  load: ReadonlyMap<string, number>;
}

export class NoNodeAvailableError extends Error {
  constructor(total: number) {
    super(total === 0 ? 'no node worker has registered' : `none of the ${total} registered nodes is alive`);
    this.name = 'NoNodeAvailableError';
  }
}

/** The live node with the fewest apps; ties go to the smallest id so the choice is stable. */
export function placeApp(nodes: readonly PlacementNode[], options: PlacementOptions): string {
  const alive = nodes.filter((n) => options.now - Date.parse(n.heartbeatAt) <= options.heartbeatTimeoutMs);
  if (alive.length === 0) throw new NoNodeAvailableError(nodes.length);
  const loadOf = (id: string) => options.load.get(id) ?? 0;
  return [...alive].sort((a, b) => loadOf(a.id) - loadOf(b.id) || a.id.localeCompare(b.id))[0]!.id;
}
