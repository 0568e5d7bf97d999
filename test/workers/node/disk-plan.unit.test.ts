import { expect } from 'chai';
import { planDiskActions, type ContainerUsage, type DiskAction } from '../../../src/workers/node/disk-plan.ts';

const MiB = 1024 * 1024;
const c = (
  name: string,
  app: string,
  release: string,
  role: 'app' | 'build',
  layerMiB: number,
  running = true,
): ContainerUsage => ({
  name,
  app,
  release,
  role,
  running,
  layerBytes: layerMiB * MiB,
});

type Row = [
  what: string,
  containers: ContainerUsage[],
  dirs: Record<string, number>,
  serving: Record<string, string | undefined>,
  expected: [DiskAction['kind'], string, string[]][],
];

/** Limit 20 MiB; directories in MiB by app/release. */
const rows: Row[] = [
  ['nothing runs', [], {}, {}, []],
  ['an app under the limit', [c('w0', 'web', 'r1', 'app', 2)], { 'web/r1': 10 }, { web: 'r1' }, []],
  ['exactly at the limit is allowed', [c('w0', 'web', 'r1', 'app', 5)], { 'web/r1': 15 }, { web: 'r1' }, []],
  [
    'a release directory over the limit stops the serving instances',
    [c('w0', 'web', 'r1', 'app', 0), c('w1', 'web', 'r1', 'app', 0)],
    { 'web/r1': 25 },
    { web: 'r1' },
    [['stop-instances', 'web', ['w0', 'w1']]],
  ],
  [
    'writable layers add up with the directory',
    [c('w0', 'web', 'r1', 'app', 8), c('w1', 'web', 'r1', 'app', 8)],
    { 'web/r1': 5 },
    { web: 'r1' },
    [['stop-instances', 'web', ['w0', 'w1']]],
  ],
  [
    'only the app over the limit, not its neighbour',
    [c('a0', 'hog', 'r1', 'app', 30), c('b0', 'calm', 'r1', 'app', 1)],
    { 'calm/r1': 3 },
    { hog: 'r1', calm: 'r1' },
    [['stop-instances', 'hog', ['a0']]],
  ],
  [
    'stopped instances need nothing (already reported)',
    [c('w0', 'web', 'r1', 'app', 30, false)],
    {},
    { web: 'r1' },
    [],
  ],
  [
    'releases are counted apart: old and new each under the limit',
    [c('w0', 'web', 'r1', 'app', 1), c('wb', 'web', 'r2', 'build', 1)],
    { 'web/r1': 15, 'web/r2': 15 },
    { web: 'r1' },
    [],
  ],
  [
    'a build over the limit is killed, the serving release is left alone',
    [c('w0', 'web', 'r1', 'app', 1), c('wb', 'web', 'r2', 'build', 30)],
    { 'web/r1': 1 },
    { web: 'r1' },
    [['kill-build', 'web', ['wb']]],
  ],
  [
    'a build with its prepared instances: only the build is killed',
    [c('wb', 'web', 'r2', 'build', 2), c('w0', 'web', 'r2', 'app', 0, false)],
    { 'web/r2': 40 },
    { web: undefined },
    [['kill-build', 'web', ['wb']]],
  ],
  ['a stopped build container is not killed again', [c('wb', 'web', 'r2', 'build', 30, false)], {}, { web: 'r1' }, []],
  [
    'new instances of a deploy not yet switched to are left to it',
    [c('w0', 'web', 'r2', 'app', 30)],
    {},
    { web: 'r1' },
    [],
  ],
  ['containers of an app with no document are left to reconciliation', [c('x0', 'gone', 'r1', 'app', 30)], {}, {}, []],
  [
    'a release directory du could not count in time is over the limit',
    [c('w0', 'web', 'r1', 'app', 0)],
    { 'web/r1': Infinity },
    { web: 'r1' },
    [['stop-instances', 'web', ['w0']]],
  ],
];

describe('planDiskActions (limit 20 MiB)', () => {
  for (const [what, containers, dirs, serving, expected] of rows) {
    it(what, () => {
      const actions = planDiskActions({
        containers,
        releaseDirBytes: new Map(Object.entries(dirs).map(([k, v]) => [k, v * MiB])),
        serving: new Map(Object.entries(serving)),
        limitBytes: 20 * MiB,
        node: 'n1',
      });
      expect(actions.map((a) => [a.kind, a.app, a.kind === 'kill-build' ? [a.container] : a.containers])).to.deep.equal(
        expected,
      );
    });
  }

  it('says what was measured, the limit and the setting', () => {
    const [stop] = planDiskActions({
      containers: [c('w0', 'web', 'r1', 'app', 4)],
      releaseDirBytes: new Map([['web/r1', 21 * MiB]]),
      serving: new Map([['web', 'r1']]),
      limitBytes: 20 * MiB,
      node: 'n1',
    });
    expect(stop!.message).to.equal(
      'release r1 used 25 MiB of disk on node n1 (release directory 21 MiB, container layers 4 MiB), over the limit of 20 MiB (GASPER_APP_DISK_MB); its instances on node n1 were stopped. Redeploy to start from a clean release directory',
    );
    const [kill] = planDiskActions({
      containers: [c('wb', 'web', 'r2', 'build', 30)],
      releaseDirBytes: new Map(),
      serving: new Map([['web', 'r1']]),
      limitBytes: 20 * MiB,
      node: 'n1',
    });
    expect(kill!.message).to.match(
      /^the build used 30 MiB of disk on node n1 .* \(GASPER_APP_DISK_MB\); it was stopped$/,
    );
    const [uncounted] = planDiskActions({
      containers: [c('w0', 'web', 'r1', 'app', 0)],
      releaseDirBytes: new Map([['web/r1', Infinity]]),
      serving: new Map([['web', 'r1']]),
      limitBytes: 20 * MiB,
      node: 'n1',
    });
    expect(uncounted!.message).to.match(
      /^release r1 used more disk on node n1 than could be counted in time \(its release directory holds too many files\), over the limit of 20 MiB/,
    );
  });

  it("counts the app's build cache for a running build only: it writes there, its instances never see it", () => {
    const cache = new Map([['web', 15 * MiB]]);
    const [kill] = planDiskActions({
      containers: [c('wb', 'web', 'r2', 'build', 1)],
      releaseDirBytes: new Map([['web/r2', 5 * MiB]]),
      buildCacheBytes: cache,
      serving: new Map([['web', 'r1']]),
      limitBytes: 20 * MiB,
      node: 'n1',
    });
    expect(kill!.message).to.equal(
      'the build used 21 MiB of disk on node n1 (release directory 5 MiB, container layers 1 MiB, build cache 15 MiB), over the limit of 20 MiB (GASPER_APP_DISK_MB); it was stopped',
    );
    // The same cache with no build running: the serving instances are measured without it.
    const none = planDiskActions({
      containers: [c('w0', 'web', 'r1', 'app', 1), c('wb', 'web', 'r2', 'build', 1, false)],
      releaseDirBytes: new Map([
        ['web/r1', 5 * MiB],
        ['web/r2', 5 * MiB],
      ]),
      buildCacheBytes: cache,
      serving: new Map([['web', 'r1']]),
      limitBytes: 20 * MiB,
      node: 'n1',
    });
    expect(none).to.deep.equal([]);
    const [uncounted] = planDiskActions({
      containers: [c('wb', 'web', 'r2', 'build', 0)],
      releaseDirBytes: new Map(),
      buildCacheBytes: new Map([['web', Infinity]]),
      serving: new Map([['web', 'r1']]),
      limitBytes: 20 * MiB,
      node: 'n1',
    });
    expect(uncounted!.message).to.match(/than could be counted in time \(its build cache holds too many files\)/);
  });
});
