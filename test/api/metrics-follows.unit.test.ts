import { expect } from 'chai';
import { newerThanSnapshot } from '../../src/api/metrics-follows.ts';

describe('newerThanSnapshot', function () {
  const snapshot = [
    { instance: 'a', node: 'n1', release: 'r1', samples: [{ at: '2026-01-01T00:00:05Z', cpu: null, memory: null }] },
    { instance: 'b', node: 'n1', release: 'r1', samples: [] },
  ];
  const cases: [string, string, boolean][] = [
    ['a', '2026-01-01T00:00:04Z', false], // older than the snapshot's last
    ['a', '2026-01-01T00:00:05Z', false], // the snapshot's last itself
    ['a', '2026-01-01T00:00:06Z', true],
    ['a', '2026-01-01T00:00:06Z', false], // the same sample published twice
    ['b', '2026-01-01T00:00:01Z', true], // an instance with no sample yet
    ['c', '2026-01-01T00:00:01Z', true], // an instance that started after the snapshot
  ];
  it('sends each sample once, and none the snapshot had', function () {
    const fresh = newerThanSnapshot(snapshot);
    expect(cases.map(([instance, at]) => fresh(instance, at))).to.deep.equal(cases.map(([, , want]) => want));
  });
});
