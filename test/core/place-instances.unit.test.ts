import { expect } from 'chai';
import {
  PlacementError,
  placeInstances,
  type CandidateNode,
  type PlacementRequest,
} from '../../src/core/place-instances.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** A node with `cpus` and `memGiB`, of which `usedCpu`/`usedGiB` are promised already. */
const node = (
  id: string,
  cpus = 4,
  memGiB = 8,
  usedCpu = 0,
  usedGiB = 0,
  extra: Partial<CandidateNode> = {},
): CandidateNode => ({
  id,
  capacity: { cpus, memoryBytes: memGiB * GiB },
  allocated: { cpu: usedCpu, memoryBytes: usedGiB * GiB },
  alive: true,
  draining: false,
  ...extra,
});
const held = (name: string, cpu: number, memGiB: number) => ({ name, cpu, memoryBytes: memGiB * GiB });
const req = (instances: number, cpu = 1, memGiB = 1, extra: Partial<PlacementRequest> = {}): PlacementRequest => ({
  cpu,
  memoryBytes: memGiB * GiB,
  instances,
  ...extra,
});

describe('placeInstances', () => {
  const cases: [string, CandidateNode[], PlacementRequest, string[]][] = [
    ['the only node', [node('a')], req(1), ['a']],
    [
      'the node with the most free resources',
      [node('a', 4, 8, 3, 1), node('b', 4, 8, 1, 1), node('c', 4, 8, 2, 1)],
      req(1),
      ['b'],
    ],
    ['the node whose busier resource is least used', [node('a', 4, 8, 0, 7), node('b', 4, 8, 2, 2)], req(1), ['b']],
    ['the node least used relative to its size', [node('a', 2, 4, 1, 2), node('b', 16, 32, 4, 8)], req(1), ['b']],
    ['different nodes for the instances of one app', [node('a'), node('b'), node('c')], req(3), ['a', 'b', 'c']],
    ['a busier node rather than twice the same one', [node('a'), node('b', 4, 8, 2, 4)], req(2), ['a', 'b']],
    ['each node again when instances outnumber nodes', [node('a'), node('b')], req(4), ['a', 'b', 'a', 'b']],
    ['nodes with room only, spreading', [node('a', 4, 8, 3.5, 0), node('b'), node('c')], req(3), ['b', 'c', 'b']],
    ['a live node, not a down one', [node('a', 4, 8, 0, 0, { alive: false }), node('b', 4, 8, 3, 6)], req(1), ['b']],
    ['a node that is not draining', [node('a', 4, 8, 0, 0, { draining: true }), node('b', 4, 8, 3, 6)], req(1), ['b']],
    ['a node not excluded', [node('a'), node('b', 4, 8, 3, 6)], req(1, 1, 1, { exclude: new Set(['a']) }), ['b']],
    [
      'the node the app runs on when all else is equal',
      [node('a', 4, 8, 1, 1), node('b', 4, 8, 1, 1)],
      req(1, 1, 1, { current: ['b'] }),
      ['b'],
    ],
    [
      "the app's node, counting its own allocation as free",
      // b is full only with this app's instance, which the new one replaces.
      [node('a', 4, 8, 3, 7.5), node('b', 2, 2, 2, 2)],
      req(1, 2, 2, { current: ['b'] }),
      ['b'],
    ],
    ['a node that fractional CPUs fill exactly', [node('a', 0.3, 1)], req(3, 0.1, 0.25), ['a', 'a', 'a']],
    ['the smallest id on a tie', [node('c'), node('a'), node('b')], req(1), ['a']],
  ];
  for (const [what, nodes, request, expected] of cases) {
    it(`places on ${what}`, () => {
      expect(placeInstances(nodes, request)).to.deep.equal(expected);
    });
  }

  const refusals: [string, CandidateNode[], PlacementRequest, PlacementError['reason'], RegExp][] = [
    ['no node at all', [], req(1), 'no-node', /no node worker has registered/],
    [
      'every node down or draining',
      [node('a', 4, 8, 0, 0, { alive: false }), node('b', 4, 8, 0, 0, { draining: true })],
      req(1),
      'no-node',
      /none of the 2 registered nodes can take instances \(1 down, 1 draining\)/,
    ],
    ['the only live node excluded', [node('a')], req(1, 1, 1, { exclude: new Set(['a']) }), 'no-node', /1 excluded/],
    [
      'an instance larger than any node',
      [node('a', 2, 4), node('b', 4, 2)],
      req(1, 3, 3),
      'no-capacity',
      /no node has 3 CPU and 3072 MiB free for the instance \(most free: a with 2 CPU, 4096 MiB\)/,
    ],
    [
      'the third instance does not fit',
      [node('a', 1, 8), node('b', 1, 8)],
      req(3),
      'no-capacity',
      /for instance 3 of 3/,
    ],
    [
      'memory is full',
      [node('a', 8, 1, 0, 0.75)],
      { cpu: 0.5, memoryBytes: 512 * MiB, instances: 1 },
      'no-capacity',
      /512 MiB free .*a with 8 CPU, 256 MiB\)$/,
    ],
    [
      'memory is full: the three holders with the most memory named, the rest counted',
      [
        node('a', 16, 2, 4, 2, {
          holders: [
            held('app small', 2, 0.25),
            held('app big', 1, 1),
            held('database db', 0.5, 0.5),
            held('app tiny', 0.5, 0.25),
          ],
        }),
      ],
      req(1, 1, 0.5),
      'no-capacity',
      /; held most by app big on a \(1 CPU, 1024 MiB\), database db on a \(0\.5 CPU, 512 MiB\), app small on a \(2 CPU, 256 MiB\) and 1 more$/,
    ],
    [
      'CPU is full: the holders with the most CPU first, over every node',
      [
        node('a', 2, 8, 2, 1, { holders: [held('app one', 1.5, 1), held('app two', 0.5, 0)] }),
        node('b', 1, 8, 1, 0, { holders: [held('database db', 1, 0)] }),
      ],
      req(1, 1, 0.5),
      'no-capacity',
      /; held most by app one on a \(1\.5 CPU, 1024 MiB\), database db on b \(1 CPU, 0 MiB\), app two on a \(0\.5 CPU, 0 MiB\)$/,
    ],
  ];
  for (const [what, nodes, request, reason, message] of refusals) {
    it(`refuses when ${what}`, () => {
      let caught: unknown;
      try {
        placeInstances(nodes, request);
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(PlacementError);
      expect((caught as PlacementError).reason).to.equal(reason);
      expect((caught as PlacementError).message).to.match(message);
    });
  }

  it('changes neither the nodes nor the request', () => {
    const nodes = [node('b', 4, 8, 1, 1), node('a')];
    const frozen = JSON.stringify(nodes);
    placeInstances(nodes, req(3, 1, 1, { current: ['a'] }));
    expect(JSON.stringify(nodes)).to.equal(frozen);
  });

  it('never promises more than a node has, over many decisions', () => {
    const nodes = [node('a', 4, 8), node('b', 2, 16), node('c', 8, 4)];
    let placed = 0;
    for (;;) {
      let chosen: string[];
      try {
        chosen = placeInstances(nodes, req(2, 0.5, 0.5));
      } catch (err) {
        expect(err).to.be.instanceOf(PlacementError);
        break;
      }
      placed += chosen.length;
      for (const id of chosen) {
        const n = nodes.find((x) => x.id === id)!;
        n.allocated.cpu += 0.5;
        n.allocated.memoryBytes += 0.5 * GiB;
      }
    }
    for (const n of nodes) {
      expect(n.allocated.cpu).to.be.at.most(n.capacity.cpus);
      expect(n.allocated.memoryBytes).to.be.at.most(n.capacity.memoryBytes);
    }
    // a: 8 halves of CPU; b: 4; c: 8 of memory — 20 instances in all, the last pair refused at 20.
    expect(placed).to.be.within(18, 20);
  });
});
