import { expect } from 'chai';
import type { AppDocument } from '../../../src/store/app-document.ts';
import {
  planDatabaseRemovals,
  planDirRemovals,
  planNetworkRemovals,
  planReconcile,
  type ObservedContainer,
} from '../../../src/workers/node/reconcile.ts';

const now = Date.parse('2024-06-01T12:00:00.000Z');
const buildTimeoutMs = 60_000;
const me = 'n1';

const app = (name: string, extra: Partial<AppDocument> = {}): AppDocument => ({
  name,
  uid: 'u1',
  owner: 'admin',
  repo: { url: 'file:///x' },
  runtime: 'node',
  port: 3000,
  sealedEnv: {},
  node: me,
  status: 'running',
  release: 'r000002',
  instances: [{ node: me, address: '127.0.0.1', port: 40000, container: `gasper-${name}-r000002-0` }],
  createdAt: '',
  updatedAt: new Date(now - 60_000).toISOString(),
  ...extra,
});
const container = (appName: string, release: string, role = 'app', ageMs = 1000): ObservedContainer => ({
  id: `id-${appName}-${release}-${role}`,
  name: `gasper-${appName}-${release}-${role === 'build' ? 'build' : '0'}`,
  app: appName,
  release,
  role,
  createdMs: now - ageMs,
});
const plan = (apps: AppDocument[], containers: ObservedContainer[]) =>
  planReconcile(me, new Map(apps.map((a) => [a.name, a])), containers, { now, buildTimeoutMs, settleMs: 90_000 }).map(
    (r) => [r.container, r.reason],
  );

describe('planReconcile', () => {
  const cases: [string, AppDocument[], ObservedContainer[], [string, string][]][] = [
    ['keeps the current release', [app('blog')], [container('blog', 'r000002')], []],
    [
      "keeps a worker of the current release on a node that runs only the app's worker",
      // web on n2, worker on this node (core/formation.ts: the placement lists every process type).
      [app('blog', { node: 'n2', placement: ['n2', me], processes: { worker: 1 }, instances: [] })],
      [{ ...container('blog', 'r000002'), name: 'gasper-blog-r000002-worker-1' }],
      [],
    ],
    [
      'keeps the pending release (a deploy in progress)',
      [app('blog', { pendingRelease: 'r000003' })],
      [container('blog', 'r000003'), container('blog', 'r000003', 'build')],
      [],
    ],
    [
      'removes containers of an app that no longer exists',
      [],
      [container('gone', 'r000001')],
      [['gasper-gone-r000001-0', 'app no longer exists']],
    ],
    [
      'keeps a young container of another release (a rollback in progress)',
      [app('blog')],
      [container('blog', 'r000001', 'app', 30_000)],
      [],
    ],
    [
      'removes a release neither current nor pending',
      [app('blog')],
      [container('blog', 'r000001', 'app', 91_000)],
      [['gasper-blog-r000001-0', 'release r000001 is neither current (r000002) nor pending (none)']],
    ],
    [
      'removes a build container older than the build timeout',
      [app('blog', { pendingRelease: 'r000003' })],
      [container('blog', 'r000003', 'build', buildTimeoutMs + 61_000)],
      [['gasper-blog-r000003-build', 'build container older than the build timeout']],
    ],
    [
      'keeps a build container within the timeout',
      [app('blog', { pendingRelease: 'r000003' })],
      [container('blog', 'r000003', 'build', buildTimeoutMs)],
      [],
    ],
    [
      'keeps serving an app moved away until its new instances take over',
      [app('blog', { node: 'n2', pendingRelease: 'r000003' })],
      [container('blog', 'r000002')],
      [],
    ],
    [
      'removes an app moved away once it serves from the other node',
      [
        app('blog', {
          node: 'n2',
          release: 'r000003',
          instances: [{ node: 'n2', address: '127.0.0.1', port: 1, container: 'x' }],
        }),
      ],
      [container('blog', 'r000002')],
      [['gasper-blog-r000002-0', 'app moved to node n2']],
    ],
    [
      'keeps an app moved away for a few seconds after the switch (proxies apply it)',
      [
        app('blog', {
          node: 'n2',
          release: 'r000003',
          instances: [{ node: 'n2', address: '127.0.0.1', port: 1, container: 'x' }],
          updatedAt: new Date(now - 1000).toISOString(),
        }),
      ],
      [container('blog', 'r000002')],
      [],
    ],
    [
      'leaves an app being deleted to its delete job',
      [app('blog', { status: 'deleting' })],
      [container('blog', 'r000001')],
      [],
    ],
  ];
  for (const [what, apps, containers, expected] of cases) {
    it(what, () => expect(plan(apps, containers)).to.deep.equal(expected));
  }

  describe('one-off run containers', () => {
    const run = (release: string, ageMs: number): ObservedContainer => ({
      ...container('blog', release, 'run', ageMs),
      name: `gasper-blog-run-${release}`,
    });
    const runPlan = (containers: ObservedContainer[], live: string[]) =>
      planReconcile(me, new Map([['blog', app('blog', { release: 'r000009' })]]), containers, {
        now,
        buildTimeoutMs,
        settleMs: 90_000,
        liveRuns: new Set(live),
      }).map((r) => [r.container, r.reason]);
    const cases: [string, ObservedContainer[], string[], [string, string][]][] = [
      [
        'keeps a run whose job runs, of an old release, however old',
        [run('r000001', 3600_000)],
        ['gasper-blog-run-r000001'],
        [],
      ],
      ['keeps a run just created (another worker process of this node may run it)', [run('r000009', 5000)], [], []],
      [
        'removes a run whose job no longer runs here',
        [run('r000009', 60_000)],
        [],
        [['gasper-blog-run-r000009', 'one-off run whose job (or interactive session) is no longer running']],
      ],
    ];
    for (const [what, containers, live, expected] of cases) {
      it(what, () => expect(runPlan(containers, live)).to.deep.equal(expected));
    }
  });
});

describe('planDirRemovals', () => {
  it('removes directories of apps gone or moved with nothing left here', () => {
    const apps = new Map([
      ['here', app('here')],
      ['moved', app('moved', { node: 'n2' })],
      ['moving', app('moving', { node: 'n2' })],
    ]);
    expect(planDirRemovals(me, apps, ['here', 'moved', 'moving', 'gone'], new Set(['moving']))).to.deep.equal([
      'moved',
      'gone',
    ]);
  });
});

describe('planDatabaseRemovals', () => {
  const owned = (kind: 'container' | 'volume' | 'network', database: string, uid: string) => ({
    kind,
    id: `${kind}-${database}-${uid}`,
    database,
    uid,
  });
  it('removes only what a database recorded as deleted without this node left here', () => {
    const databases = new Map([
      ['shop', { uid: 'u1' }],
      ['cache', { uid: 'u9' }],
    ]);
    const resources = [
      owned('container', 'shop', 'u1'),
      owned('volume', 'shop', 'u1'),
      owned('network', 'shop', 'u1'),
      owned('container', 'gone', 'u2'),
      owned('volume', 'gone', 'u2'),
      owned('network', 'gone', 'u2'),
      owned('volume', 'cache', 'u3'),
      // Missing from Redis but never recorded as deleted: a wrong or emptied Redis must not cost the data.
      owned('volume', 'unknown', 'u4'),
    ];
    const deleted = new Set(['gone/u2', 'cache/u3', 'shop/u1']);
    const reason = (db: string) => `database ${db} was deleted while this node was down`;
    expect(planDatabaseRemovals(databases, resources, deleted)).to.deep.equal([
      { kind: 'container', id: 'container-gone-u2', database: 'gone', reason: reason('gone') },
      { kind: 'volume', id: 'volume-gone-u2', database: 'gone', reason: reason('gone') },
      { kind: 'network', id: 'network-gone-u2', database: 'gone', reason: reason('gone') },
      { kind: 'volume', id: 'volume-cache-u3', database: 'cache', reason: reason('cache') },
    ]);
    expect(planDatabaseRemovals(new Map(), resources, new Set())).to.deep.equal([]);
  });
});

describe('planNetworkRemovals', () => {
  const network = (appName: string, uid: string) => ({
    id: `id-${appName}-${uid}`,
    name: `gasper-1a2b3c4d-app-${appName}-${uid}`,
    app: appName,
    uid,
  });
  const apps = (...docs: AppDocument[]) => new Map(docs.map((d) => [d.name, d]));

  it('removes the networks of deleted apps and earlier incarnations; keeps the current one, deletions and moves with containers left', () => {
    const current = app('web', { uid: 'u2' });
    const removals = planNetworkRemovals(
      me,
      apps(
        current,
        app('gone-soon', { uid: 'u3', status: 'deleting' }),
        app('moved', { uid: 'u4', node: 'n2' }),
        app('moving', { uid: 'u5', node: 'n2' }),
      ),
      [
        network('web', 'u2'),
        network('web', 'u1'),
        network('deleted', 'u9'),
        network('gone-soon', 'u3'),
        network('moved', 'u4'),
        network('moving', 'u5'),
      ],
      new Set(['moving']),
    );
    expect(removals.map((r) => [r.name, r.reason])).to.deep.equal([
      ['gasper-1a2b3c4d-app-web-u1', 'app no longer exists'],
      ['gasper-1a2b3c4d-app-deleted-u9', 'app no longer exists'],
      ['gasper-1a2b3c4d-app-moved-u4', 'app moved to another node'],
    ]);
  });
});
