import { expect } from 'chai';
import { planCleanup, type CleanupInput } from '../../../src/workers/node/cleanup-plan.ts';

type App = { release?: string; pendingRelease?: string; deleting?: boolean };

const r = (n: number) => `r${String(n).padStart(6, '0')}`;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => r(from + i));

function input(
  keep: number,
  apps: Record<string, App>,
  dirs: string[],
  images: string[] = [],
  containers: [string, boolean][] = [],
): CleanupInput {
  const split = (s: string) => {
    const [app, release] = s.split('/') as [string, string];
    return { app, release };
  };
  return {
    keep,
    apps: new Map(Object.entries(apps).map(([k, v]) => [k, { ...v, deleting: v.deleting ?? false }])),
    dirs: dirs.map(split),
    images: images.map((s) => ({ id: `img-${s}`, ...split(s) })),
    containers: containers.map(([s, running]) => ({ id: `c-${s}-${running}`, running, ...split(s) })),
  };
}

type Row = [
  what: string,
  input: CleanupInput,
  expected: { dirs: string[]; images?: string[]; containers?: string[]; kept?: Record<string, string[]> },
];

const names = (objects: { app: string; release: string }[]) => objects.map((o) => `${o.app}/${o.release}`).sort();

const rows: Row[] = [
  [
    'nothing beyond what is kept: nothing removed',
    input(
      3,
      { a: { release: r(3) } },
      range(1, 3).map((x) => `a/${x}`),
    ),
    { dirs: [] },
  ],
  [
    'the oldest directories beyond keep go',
    input(
      3,
      { a: { release: r(6) } },
      range(1, 6).map((x) => `a/${x}`),
    ),
    { dirs: ['a/r000001', 'a/r000002', 'a/r000003'], kept: { a: [r(6), r(5), r(4)] } },
  ],
  [
    'the serving release stays whatever its age (a rollback to an old one)',
    input(
      2,
      { a: { release: r(1) } },
      range(1, 4).map((x) => `a/${x}`),
    ),
    { dirs: ['a/r000002'], kept: { a: [r(4), r(3), r(1)] } },
  ],
  [
    'the pending release stays too (a deploy in progress)',
    input(
      1,
      { a: { release: r(2), pendingRelease: r(3) } },
      range(1, 3).map((x) => `a/${x}`),
    ),
    { dirs: ['a/r000001'], kept: { a: [r(3), r(2)] } },
  ],
  [
    'keep below 1 still keeps one',
    input(
      0,
      { a: {} },
      range(1, 2).map((x) => `a/${x}`),
    ),
    { dirs: ['a/r000001'], kept: { a: [r(2)] } },
  ],
  [
    'images and stopped containers of releases not kept go; running ones are left to reconciliation',
    input(
      2,
      { a: { release: r(4) } },
      range(1, 4).map((x) => `a/${x}`),
      ['a/r000001', 'a/r000003', 'a/r000004'],
      [
        ['a/r000001', false],
        ['a/r000002', true],
        ['a/r000003', false],
        ['a/r000004', false],
      ],
    ),
    { dirs: ['a/r000001', 'a/r000002'], images: ['a/r000001'], containers: ['a/r000001'] },
  ],
  [
    'releases count across directories, images and containers (an image without a directory)',
    input(1, { a: { release: r(5) } }, ['a/r000005'], ['a/r000004', 'a/r000005']),
    { dirs: [], images: ['a/r000004'] },
  ],
  [
    'an app being deleted is left to its delete job',
    input(
      1,
      { a: { deleting: true } },
      range(1, 3).map((x) => `a/${x}`),
      ['a/r000001'],
      [['a/r000001', false]],
    ),
    { dirs: [], images: [], containers: [] },
  ],
  [
    'an app without a document: its images go, directories and containers are reconciliation’s',
    input(1, {}, ['gone/r000001'], ['gone/r000001'], [['gone/r000001', false]]),
    { dirs: [], images: ['gone/r000001'], containers: [] },
  ],
  [
    'apps are counted apart',
    input(1, { a: { release: r(2) }, b: { release: r(7) } }, ['a/r000001', 'a/r000002', 'b/r000006', 'b/r000007']),
    { dirs: ['a/r000001', 'b/r000006'], kept: { a: [r(2)], b: [r(7)] } },
  ],
  [
    "cancelled and failed releases' leftovers do not count among the newest: the rollback target stays",
    {
      ...input(
        2,
        { a: { release: r(3) } },
        range(1, 5).map((x) => `a/${x}`),
        [`a/${r(4)}`, `a/${r(5)}`],
      ),
      statuses: new Map([
        [
          'a',
          new Map([
            [r(1), 'superseded'],
            [r(2), 'superseded'],
            [r(3), 'active'],
            [r(4), 'cancelled'],
            [r(5), 'failed'],
          ]),
        ],
      ]),
    },
    { dirs: ['a/r000001', 'a/r000004', 'a/r000005'], images: ['a/r000004', 'a/r000005'], kept: { a: [r(3), r(2)] } },
  ],
  [
    'a building release that is the pending one stays; a stale building one is not ranked',
    {
      ...input(
        1,
        { a: { release: r(2), pendingRelease: r(4) } },
        range(1, 4).map((x) => `a/${x}`),
      ),
      statuses: new Map([
        [
          'a',
          new Map([
            [r(1), 'superseded'],
            [r(2), 'active'],
            [r(3), 'building'],
            [r(4), 'building'],
          ]),
        ],
      ]),
    },
    { dirs: ['a/r000001', 'a/r000003'], kept: { a: [r(4), r(2)] } },
  ],
  [
    'right after a switch the serving release counts among the newest, though its record still says starting',
    {
      ...input(
        2,
        { a: { release: r(3) } },
        range(1, 3).map((x) => `a/${x}`),
      ),
      statuses: new Map([
        [
          'a',
          new Map([
            [r(1), 'superseded'],
            [r(2), 'active'],
            [r(3), 'starting'],
          ]),
        ],
      ]),
    },
    { dirs: ['a/r000001'], kept: { a: [r(3), r(2)] } },
  ],
  [
    'a release without a record is ranked (nothing says it never served)',
    {
      ...input(
        2,
        { a: { release: r(3) } },
        range(1, 3).map((x) => `a/${x}`),
      ),
      statuses: new Map([['a', new Map([[r(3), 'active']])]]),
    },
    { dirs: ['a/r000001'], kept: { a: [r(3), r(2)] } },
  ],
];

describe('planCleanup: which old releases a node removes (GASPER_KEEP_RELEASES)', () => {
  for (const [what, given, expected] of rows) {
    it(what, () => {
      const plan = planCleanup(given);
      expect(names(plan.dirs)).to.deep.equal(expected.dirs);
      if (expected.images) expect(names(plan.images)).to.deep.equal(expected.images);
      if (expected.containers) expect(names(plan.containers)).to.deep.equal(expected.containers);
      if (expected.kept) expect(Object.fromEntries(plan.kept)).to.deep.equal(expected.kept);
    });
  }

  it('is idempotent: planning again over what is left removes nothing', () => {
    const given = input(
      2,
      { a: { release: r(5) } },
      range(1, 5).map((x) => `a/${x}`),
      range(1, 5).map((x) => `a/${x}`),
    );
    const first = planCleanup(given);
    const goneDirs = new Set(names(first.dirs));
    const goneImages = new Set(names(first.images));
    const left = {
      ...given,
      dirs: given.dirs.filter((d) => !goneDirs.has(`${d.app}/${d.release}`)),
      images: given.images.filter((i) => !goneImages.has(`${i.app}/${i.release}`)),
    };
    const second = planCleanup(left);
    expect([second.dirs, second.images, second.containers]).to.deep.equal([[], [], []]);
  });
});
