/**
 * Resource-aware placement: which nodes run an app's instances. Pure, so it is tested with tables
 * of nodes (test/core/place-instances.unit.test.ts) and benchmarked (bench/placement.ts).
 */

/** An app or database that holds room on a node (all its instances there together). */
export interface Holder {
  /** `app blog`, `database cache`. */
  name: string;
  cpu: number;
  memoryBytes: number;
}

/** A node as placement sees it: what it has, what is promised already, whether it may take more. */
export interface CandidateNode {
  id: string;
  capacity: { cpus: number; memoryBytes: number };
  /** Resources promised to instances already placed there (this app's current ones included). */
  allocated: { cpu: number; memoryBytes: number };
  /** What makes up `allocated`, where known: a refusal names the biggest. */
  holders?: readonly Holder[];
  /** False once the node missed its heartbeats (see node-health.ts). */
  alive: boolean;
  /** A draining node keeps what it runs until it is moved, and takes nothing new. */
  draining: boolean;
}

export interface PlacementRequest {
  /** CPU cores per instance (fractions allowed). */
  cpu: number;
  memoryBytes: number;
  instances: number;
  /**
   * Nodes the app's instances run on now (one entry per instance). Their resources are counted
   * as free for this app, since the new instances replace them; the choice prefers them, so a
   * redeploy does not move an app for nothing.
   */
  current?: readonly string[];
  /** Nodes not to place on whatever their state (a node being failed over from). */
  exclude?: ReadonlySet<string>;
  /**
   * All instances on one node (an app with volumes: they are local to a node). The node chosen is
   * one with room for all of them, preferring one that runs the app now, then the least loaded.
   */
  together?: boolean;
}

/** Why nothing fits; the API turns it into a 409 or 503 with this message. */
export class PlacementError extends Error {
  constructor(
    readonly reason: 'no-node' | 'no-capacity',
    message: string,
  ) {
    super(message);
    this.name = 'PlacementError';
  }
}

interface Slot {
  node: CandidateNode;
  freeCpu: number;
  freeMemory: number;
  /** Instances of this app placed on the node by this decision. */
  placed: number;
  /** Current instances of the app on this node not yet matched by a new one. */
  sticky: number;
}

const mib = (bytes: number) => Math.round(bytes / 1048576);
const fmtCpu = (cpu: number) => String(Math.round(cpu * 100) / 100);

/**
 * Chooses a node for each of `request.instances` instances (the returned list, one node id per
 * instance; a node may appear more than once when there are fewer nodes than instances).
 * Among live, non-draining nodes with room, each instance goes to the node that
 *  1. holds the fewest of this app's instances so far (spread: one node down loses the fewest),
 *  2. then to one that runs a current instance of the app (no move without a reason),
 *  3. then to the one whose busier resource (CPU or memory share) is lowest after placing it
 *     (worst fit: keeps nodes evenly used and leaves room for large requests everywhere),
 *  4. then the smallest id, so the choice is stable.
 * Throws PlacementError when no node may be used or an instance fits nowhere.
 */
export function placeInstances(nodes: readonly CandidateNode[], request: PlacementRequest): string[] {
  const usable = nodes.filter((n) => n.alive && !n.draining && !request.exclude?.has(n.id));
  if (usable.length === 0) throw new PlacementError('no-node', noNodeMessage(nodes, request.exclude));
  const currentCount = new Map<string, number>();
  for (const id of request.current ?? []) currentCount.set(id, (currentCount.get(id) ?? 0) + 1);
  const slots: Slot[] = usable.map((node) => {
    const mine = currentCount.get(node.id) ?? 0;
    return {
      node,
      // The app's current instances on this node give their resources back to it.
      freeCpu: node.capacity.cpus - node.allocated.cpu + mine * request.cpu,
      freeMemory: node.capacity.memoryBytes - node.allocated.memoryBytes + mine * request.memoryBytes,
      placed: 0,
      sticky: mine,
    };
  });
  // Tolerates float dust: 0.1 + 0.2 CPUs fit in 0.3.
  const epsilon = 1e-9;
  const fits = (s: Slot) => s.freeCpu + epsilon >= request.cpu && s.freeMemory + epsilon >= request.memoryBytes;
  const loadAfter = (s: Slot) =>
    Math.max(
      s.node.capacity.cpus > 0 ? 1 - (s.freeCpu - request.cpu) / s.node.capacity.cpus : 1,
      s.node.capacity.memoryBytes > 0 ? 1 - (s.freeMemory - request.memoryBytes) / s.node.capacity.memoryBytes : 1,
    );
  if (request.together) return placeTogether(slots, request);
  const chosen: string[] = [];
  for (let i = 0; i < request.instances; i++) {
    let best: Slot | undefined;
    let bestLoad = 0;
    for (const slot of slots) {
      if (!fits(slot)) continue;
      const load = loadAfter(slot);
      if (!best || better(slot, load, best, bestLoad)) {
        best = slot;
        bestLoad = load;
      }
    }
    if (!best) throw new PlacementError('no-capacity', noCapacityMessage(slots, request, i));
    best.freeCpu -= request.cpu;
    best.freeMemory -= request.memoryBytes;
    best.placed++;
    if (best.sticky > 0) best.sticky--;
    chosen.push(best.node.id);
  }
  return chosen;
}

/** Every instance on the one node with room for all of them (see `PlacementRequest.together`). */
function placeTogether(slots: Slot[], request: PlacementRequest): string[] {
  const n = request.instances;
  const all = { ...request, cpu: request.cpu * n, memoryBytes: request.memoryBytes * n };
  const fitsAll = (s: Slot) => s.freeCpu + 1e-9 >= all.cpu && s.freeMemory + 1e-9 >= all.memoryBytes;
  const loadAfter = (s: Slot) =>
    Math.max(
      s.node.capacity.cpus > 0 ? 1 - (s.freeCpu - all.cpu) / s.node.capacity.cpus : 1,
      s.node.capacity.memoryBytes > 0 ? 1 - (s.freeMemory - all.memoryBytes) / s.node.capacity.memoryBytes : 1,
    );
  let best: Slot | undefined;
  for (const slot of slots) {
    if (!fitsAll(slot)) continue;
    if (!best || better(slot, loadAfter(slot), best, loadAfter(best))) best = slot;
  }
  if (!best) {
    const message = noCapacityMessage(slots, { ...all, instances: 1 }, 0);
    throw new PlacementError(
      'no-capacity',
      n > 1 ? `${message} (an app with volumes runs its ${n} instances on one node)` : message,
    );
  }
  return Array.from({ length: n }, () => best.node.id);
}

function better(a: Slot, aLoad: number, b: Slot, bLoad: number): boolean {
  if (a.placed !== b.placed) return a.placed < b.placed;
  if (a.sticky > 0 !== b.sticky > 0) return a.sticky > 0;
  if (Math.abs(aLoad - bLoad) > 1e-9) return aLoad < bLoad;
  return a.node.id < b.node.id;
}

function noNodeMessage(nodes: readonly CandidateNode[], exclude: ReadonlySet<string> | undefined): string {
  if (nodes.length === 0) return 'no node worker has registered';
  const down = nodes.filter((n) => !n.alive).length;
  const draining = nodes.filter((n) => n.alive && n.draining).length;
  const excluded = nodes.filter((n) => n.alive && !n.draining && exclude?.has(n.id)).length;
  const parts = [down && `${down} down`, draining && `${draining} draining`, excluded && `${excluded} excluded`].filter(
    Boolean,
  );
  return `none of the ${nodes.length} registered nodes can take instances (${parts.join(', ')})`;
}

/** How many holders a refusal names. */
const namedHolders = 3;

function noCapacityMessage(slots: readonly Slot[], request: PlacementRequest, index: number): string {
  const roomiest = [...slots].sort((a, b) => b.freeMemory - a.freeMemory || b.freeCpu - a.freeCpu)[0]!;
  const what = request.instances > 1 ? `instance ${index + 1} of ${request.instances}` : 'the instance';
  return (
    `no node has ${fmtCpu(request.cpu)} CPU and ${mib(request.memoryBytes)} MiB free for ${what} ` +
    `(most free: ${roomiest.node.id} with ${fmtCpu(Math.max(0, roomiest.freeCpu))} CPU, ${mib(Math.max(0, roomiest.freeMemory))} MiB)` +
    biggestHolders(slots, request)
  );
}

/**
 * `; held most by app a on n1 (1 CPU, 512 MiB), …`: the holders of the usable nodes, those with
 * the most of the scarcer resource first (memory when the request's memory fits nowhere, else CPU).
 */
function biggestHolders(slots: readonly Slot[], request: PlacementRequest): string {
  const all = slots.flatMap((s) => (s.node.holders ?? []).map((h) => ({ ...h, node: s.node.id })));
  if (all.length === 0) return '';
  const memoryShort = slots.every((s) => s.freeMemory + 1e-9 < request.memoryBytes);
  const key = (h: Holder) => (memoryShort ? [h.memoryBytes, h.cpu] : [h.cpu, h.memoryBytes]);
  const sorted = all.sort((a, b) => key(b)[0]! - key(a)[0]! || key(b)[1]! - key(a)[1]! || (a.name < b.name ? -1 : 1));
  const named = sorted
    .slice(0, namedHolders)
    .map((h) => `${h.name} on ${h.node} (${fmtCpu(h.cpu)} CPU, ${mib(h.memoryBytes)} MiB)`);
  const more = sorted.length > namedHolders ? ` and ${sorted.length - namedHolders} more` : '';
  return `; held most by ${named.join(', ')}${more}`;
}
