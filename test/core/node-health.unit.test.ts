import { expect } from 'chai';
import { candidateNodes, nodeStateAt, nodeTransitions } from '../../src/core/node-health.ts';

const now = Date.parse('2024-06-01T12:00:00.000Z');
const ago = (ms: number) => new Date(now - ms).toISOString();
const timeout = 10_000;

describe('node-health', () => {
  const states: [string, string, 'up' | 'down'][] = [
    ['a fresh heartbeat', ago(0), 'up'],
    ['a heartbeat at the timeout exactly', ago(timeout), 'up'],
    ['a heartbeat one ms past the timeout', ago(timeout + 1), 'down'],
    ['a heartbeat from the future (clock skew)', ago(-5000), 'up'],
    ['an unreadable timestamp', 'yesterday', 'down'],
  ];
  for (const [what, at, state] of states) {
    it(`${what} is ${state}`, () => expect(nodeStateAt(at, now, timeout)).to.equal(state));
  }

  it('reports changes against the recorded states only', () => {
    const nodes = [
      { id: 'a', heartbeatAt: ago(0) }, // up, recorded up: no change
      { id: 'b', heartbeatAt: ago(timeout + 1) }, // down, recorded up
      { id: 'c', heartbeatAt: ago(0) }, // up, recorded down: back
      { id: 'd', heartbeatAt: ago(0) }, // new and up: not announced
      { id: 'e', heartbeatAt: ago(3 * timeout) }, // new and down: announced
    ];
    const recorded = new Map([
      ['a', 'up'],
      ['b', 'up'],
      ['c', 'down'],
    ]);
    expect(nodeTransitions(nodes, recorded, now, timeout)).to.deep.equal([
      { node: 'b', from: 'up', to: 'down' },
      { node: 'c', from: 'down', to: 'up' },
      { node: 'e', from: undefined, to: 'down' },
    ]);
  });

  it('builds candidates from documents: allocations from placed apps, liveness, draining', () => {
    const capacity = { cpus: 4, memoryBytes: 8e9 };
    const candidates = candidateNodes(
      [
        { id: 'a', heartbeatAt: ago(0), capacity },
        { id: 'b', heartbeatAt: ago(timeout + 1), capacity },
        { id: 'c', heartbeatAt: ago(0), capacity },
      ],
      {
        now,
        timeoutMs: timeout,
        draining: new Set(['c']),
        demands: [
          { node: 'a', cpu: 1, memoryBytes: 1e9 },
          { node: 'a', cpu: 0.5, memoryBytes: 2e9 },
          { node: 'z', cpu: 9, memoryBytes: 9 },
        ],
      },
    );
    expect(candidates).to.deep.equal([
      { id: 'a', capacity, allocated: { cpu: 1.5, memoryBytes: 3e9 }, alive: true, draining: false },
      { id: 'b', capacity, allocated: { cpu: 0, memoryBytes: 0 }, alive: false, draining: false },
      { id: 'c', capacity, allocated: { cpu: 0, memoryBytes: 0 }, alive: true, draining: true },
    ]);
  });

  it("names what holds each node, an app's instances there together", () => {
    const [a, b] = candidateNodes(
      [
        { id: 'a', heartbeatAt: ago(0), capacity: { cpus: 2, memoryBytes: 4e9 } },
        { id: 'b', heartbeatAt: ago(0), capacity: { cpus: 2, memoryBytes: 4e9 } },
      ],
      {
        now,
        timeoutMs: timeout,
        draining: new Set(),
        demands: [
          { node: 'a', holder: 'app web', cpu: 1, memoryBytes: 1e9 },
          { node: 'a', holder: 'database db', cpu: 0.5, memoryBytes: 2e9 },
          { node: 'a', holder: 'app web', cpu: 1, memoryBytes: 1e9 },
          { node: 'b', cpu: 1, memoryBytes: 1e9 },
        ],
      },
    );
    expect(a!.holders).to.deep.equal([
      { name: 'app web', cpu: 2, memoryBytes: 2e9 },
      { name: 'database db', cpu: 0.5, memoryBytes: 2e9 },
    ]);
    expect(b!.holders).to.equal(undefined);
  });

  it('over-commits CPU limits by the given ratio, never memory', () => {
    const [c] = candidateNodes([{ id: 'a', heartbeatAt: ago(0), capacity: { cpus: 2, memoryBytes: 4e9 } }], {
      now,
      timeoutMs: timeout,
      draining: new Set(),
      demands: [],
      cpuOvercommit: 8,
    });
    expect(c!.capacity).to.deep.equal({ cpus: 16, memoryBytes: 4e9 });
  });
});
