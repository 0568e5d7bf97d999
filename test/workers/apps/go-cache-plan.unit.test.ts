import { expect } from 'chai';
import { goCacheEnv, planGoCache, staleCacheDirs } from '../../../src/workers/apps/go-cache-plan.ts';

describe('go-cache-plan: what a Go build starts from (pure)', () => {
  const cases: [string, Parameters<typeof planGoCache>[0], ReturnType<typeof planGoCache>][] = [
    [
      'first build: empty',
      { cache: true, bytes: 0, entries: 0 },
      { empty: false, line: 'go cache: empty (the first Go build of this app on this node)' },
    ],
    [
      'an earlier build filled it: reused, with its size',
      { cache: true, bytes: 3 * 1024 * 1024, entries: 12 },
      {
        empty: false,
        line: "go cache: reused from this app's earlier builds on this node (3.0 MiB in GOCACHE and GOMODCACHE)",
      },
    ],
    [
      'cache: false empties a full cache',
      { cache: false, bytes: 1024, entries: 3 },
      { empty: true, line: 'go cache: cache: false: building from an empty GOCACHE and GOMODCACHE' },
    ],
    [
      'cache: false on an empty one says the same',
      { cache: false, bytes: 0, entries: 0 },
      { empty: true, line: 'go cache: cache: false: building from an empty GOCACHE and GOMODCACHE' },
    ],
  ];
  for (const [title, input, plan] of cases) it(title, () => expect(planGoCache(input)).to.deep.equal(plan));

  it("removes every other incarnation's folder, keeps this one's", () => {
    expect(staleCacheDirs(['u2', 'u1', 'u0'], 'u1')).to.deep.equal(['u0', 'u2']);
    expect(staleCacheDirs(['u1'], 'u1')).to.deep.equal([]);
    expect(staleCacheDirs([], 'u1')).to.deep.equal([]);
  });

  it("points Go at the cache, and the app's own GOCACHE or GOFLAGS wins", () => {
    expect(goCacheEnv({ A: '1' })).to.deep.equal({
      GOCACHE: '/var/cache/gasper/go/build',
      GOMODCACHE: '/var/cache/gasper/go/mod',
      GOFLAGS: '-modcacherw',
      A: '1',
    });
    expect(goCacheEnv({ GOFLAGS: '-mod=vendor', GOCACHE: '/tmp/c' })).to.include({
      GOFLAGS: '-mod=vendor',
      GOCACHE: '/tmp/c',
      GOMODCACHE: '/var/cache/gasper/go/mod',
    });
  });
});
