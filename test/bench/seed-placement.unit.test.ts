import { expect } from 'chai';
import { NoNodeAvailableError, placeApp, type PlacementNode } from '../../bench/support/seed-placement.ts';

const now = Date.parse('2024-06-01T12:00:00.000Z');
const timeout = 30_000;
/** A node whose last heartbeat was `ageMs` before `now`. */
const node = (id: string, ageMs = 0): PlacementNode => ({ id, heartbeatAt: new Date(now - ageMs).toISOString() });
const place = (nodes: PlacementNode[], load: Record<string, number> = {}) =>
  placeApp(nodes, { now, heartbeatTimeoutMs: timeout, load: new Map(Object.entries(load)) });

describe('placeApp', () => {
  it('throws NoNodeAvailableError when no node registered', () => {
    expect(() => place([])).to.throw(NoNodeAvailableError, 'no node worker has registered');
  });

  it('throws NoNodeAvailableError when every node is stale', () => {
    expect(() => place([node('a', timeout + 1), node('b', 10 * timeout)])).to.throw(
      NoNodeAvailableError,
      'none of the 2 registered nodes is alive',
    );
  });

  const cases: [string, PlacementNode[], Record<string, number>, string][] = [
    ['the only node', [node('a')], {}, 'a'],
    ['a node at the timeout exactly', [node('a', timeout)], {}, 'a'],
    ['a live node over a stale, emptier one', [node('a', timeout + 1), node('b')], { b: 5 }, 'b'],
    ['the least loaded node', [node('a'), node('b'), node('c')], { a: 3, b: 1, c: 2 }, 'b'],
    ['a node with no load entry over loaded ones', [node('a'), node('b')], { a: 1 }, 'b'],
    ['the smallest id on a tie', [node('c'), node('a'), node('b')], { a: 2, b: 2, c: 2 }, 'a'],
    ['the smallest id among the least loaded only', [node('a'), node('c'), node('b')], { a: 4, b: 1, c: 1 }, 'b'],
  ];
  for (const [what, nodes, load, expected] of cases) {
    it(`chooses ${what}`, () => {
      expect(place(nodes, load)).to.equal(expected);
    });
  }

  it('does not reorder the given nodes', () => {
    const nodes = [node('b'), node('a')];
    place(nodes);
    expect(nodes.map((n) => n.id)).to.deep.equal(['b', 'a']);
  });
});
