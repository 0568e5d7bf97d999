/**
 * Where an app's instances run, read from its document. Pure: tested in
 * test/core/app-placement.unit.test.ts.
 *
 * `placement` lists the node of each instance (`['a', 'b', 'a']`); `node` is the app's primary
 * node, the one whose deploy job a client polls. Documents written before instances could be
 * spread have no `placement`: all their instances run on `node`.
 */
export interface PlacedApp {
  node: string;
  placement?: readonly string[] | undefined;
  instanceCount?: number | undefined;
}

/** The node of each instance. */
export function placementOf(app: PlacedApp): string[] {
  return app.placement?.length ? [...app.placement] : Array.from({ length: app.instanceCount ?? 1 }, () => app.node);
}

/** The nodes the app runs on, the primary first, each once. */
export function nodesOf(app: PlacedApp): string[] {
  const nodes = [...new Set(placementOf(app))];
  return nodes.includes(app.node) ? [app.node, ...nodes.filter((n) => n !== app.node)] : nodes;
}

/** How many of the app's instances run on `node`. */
export function shareOf(app: PlacedApp, node: string): number {
  return placementOf(app).filter((n) => n === node).length;
}

/**
 * The container slots `node` may use, in the order to take them: the indices of its instances in
 * the placement, then the same plus the instance count, and so on. Nodes never share a slot, so
 * container names (`gasper-<installation>-<app>-<release>-<slot>`) are unique over the whole cluster, and a
 * restart's new containers (the next round of slots) never collide with the serving ones.
 */
export function slotSequence(placement: readonly string[], node: string): { offsets: number[]; stride: number } {
  const offsets = placement.flatMap((n, i) => (n === node ? [i] : []));
  return { offsets, stride: Math.max(1, placement.length) };
}

/** `count` slots from the sequence that `used` does not hold, lowest round first. */
export function freeSlotsIn(
  sequence: { offsets: readonly number[]; stride: number },
  used: ReadonlySet<number>,
  count: number,
): number[] {
  const slots: number[] = [];
  if (sequence.offsets.length === 0) return slots;
  for (let round = 0; slots.length < count; round++) {
    for (const offset of sequence.offsets) {
      const slot = offset + round * sequence.stride;
      if (!used.has(slot) && slots.length < count) slots.push(slot);
    }
  }
  return slots;
}

/** Whether two instance lists name the same containers on the same nodes, in any order. */
export function sameInstances(
  a: readonly { node: string; container: string }[],
  b: readonly { node: string; container: string }[],
): boolean {
  if (a.length !== b.length) return false;
  const key = (i: { node: string; container: string }) => `${i.node}/${i.container}`;
  const set = new Set(a.map(key));
  return b.every((i) => set.has(key(i)));
}
