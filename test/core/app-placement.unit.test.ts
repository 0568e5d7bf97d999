import { expect } from 'chai';
import {
  freeSlotsIn,
  nodesOf,
  placementOf,
  sameInstances,
  shareOf,
  slotSequence,
} from '../../src/core/app-placement.ts';

describe('app placement', () => {
  it('reads a document from before spreading as all instances on its node', () => {
    expect(placementOf({ node: 'a', instanceCount: 3 })).to.deep.equal(['a', 'a', 'a']);
    expect(placementOf({ node: 'a' })).to.deep.equal(['a']);
    expect(nodesOf({ node: 'a', instanceCount: 2 })).to.deep.equal(['a']);
    expect(shareOf({ node: 'a', instanceCount: 2 }, 'a')).to.equal(2);
    expect(shareOf({ node: 'a', instanceCount: 2 }, 'b')).to.equal(0);
  });

  it("lists each node once, the primary first, and counts each node's share", () => {
    const app = { node: 'b', placement: ['a', 'b', 'a', 'c'], instanceCount: 4 };
    expect(nodesOf(app)).to.deep.equal(['b', 'a', 'c']);
    expect(shareOf(app, 'a')).to.equal(2);
    expect(shareOf(app, 'b')).to.equal(1);
    expect(shareOf(app, 'd')).to.equal(0);
  });

  it('gives the nodes disjoint container slots: their placement indices, then one instance count further each round', () => {
    const placement = ['a', 'b', 'a'];
    const a = slotSequence(placement, 'a');
    const b = slotSequence(placement, 'b');
    expect(freeSlotsIn(a, new Set(), 2)).to.deep.equal([0, 2]);
    expect(freeSlotsIn(b, new Set(), 1)).to.deep.equal([1]);
    // A restart: the serving slots are taken, so the next round starts beside them.
    expect(freeSlotsIn(a, new Set([0, 2]), 2)).to.deep.equal([3, 5]);
    expect(freeSlotsIn(b, new Set([1]), 1)).to.deep.equal([4]);
    const all = [...freeSlotsIn(a, new Set(), 6), ...freeSlotsIn(b, new Set(), 6)];
    expect(new Set(all).size).to.equal(12);
  });

  it('takes the lowest free slots on a single node, as before spreading', () => {
    const one = slotSequence(['a', 'a'], 'a');
    expect(freeSlotsIn(one, new Set(), 2)).to.deep.equal([0, 1]);
    expect(freeSlotsIn(one, new Set([0]), 1)).to.deep.equal([1]);
    expect(freeSlotsIn(one, new Set([0, 1]), 2)).to.deep.equal([2, 3]);
    expect(freeSlotsIn(one, new Set([1, 2]), 2)).to.deep.equal([0, 3]);
    expect(freeSlotsIn(one, new Set([0]), 0)).to.deep.equal([]);
    expect(freeSlotsIn(slotSequence(['a'], 'b'), new Set(), 2)).to.deep.equal([]);
  });

  it('compares instance lists by node and container, in any order', () => {
    const x = { node: 'a', container: 'c0' };
    const y = { node: 'b', container: 'c1' };
    expect(sameInstances([x, y], [y, x])).to.equal(true);
    expect(sameInstances([x], [x, y])).to.equal(false);
    expect(sameInstances([x], [{ node: 'b', container: 'c0' }])).to.equal(false);
    expect(sameInstances([], [])).to.equal(true);
  });
});
