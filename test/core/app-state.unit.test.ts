import { expect } from 'chai';
import {
  deletionRequested,
  deployFailed,
  deploying,
  deployRequested,
  instanceBack,
  instanceLost,
  onlyIf,
  operationFailed,
  overDiskLimit,
  processesStarted,
  stopped,
  switched,
  type AppTransition,
} from '../../src/core/app-state.ts';
import type { Instance } from '../../src/events/schemas.ts';
import type { AppDocument } from '../../src/store/app-document.ts';

const i = (node: string, slot: number, release = 'r000002'): Instance => ({
  node,
  address: '127.0.0.1',
  port: 40000 + slot,
  container: `gasper-blog-${release}-${slot}`,
});
const app = (extra: Partial<AppDocument> = {}): AppDocument => ({
  name: 'blog',
  uid: 'u1',
  owner: 'admin',
  repo: { url: 'file:///x' },
  runtime: 'node',
  port: 3000,
  sealedEnv: {},
  node: 'a',
  status: 'running',
  release: 'r000002',
  commit: 'c2',
  instances: [i('a', 0), i('b', 1)],
  createdAt: '',
  updatedAt: '',
  ...extra,
});
const w = (node: string, slot: number, release = 'r000003'): Instance => ({
  node,
  address: '127.0.0.1',
  port: 0,
  container: `gasper-blog-${release}-worker-${slot}`,
  process: 'worker',
});
/** What a transition changes: the fields it sets, or 'unchanged' when it does not apply. */
type Change = Partial<AppDocument> | 'unchanged';

const cases: [string, AppTransition, AppDocument, Change][] = [
  ['deletionRequested: from any status', deletionRequested(), app({ status: 'failed' }), { status: 'deleting' }],
  [
    'deployRequested: an app that never ran is queued again',
    deployRequested('r000003'),
    app({ status: 'failed', release: undefined }),
    { status: 'queued', pendingRelease: 'r000003' },
  ],
  [
    'deployRequested: a running app keeps its status until the switch',
    deployRequested('r000003'),
    app(),
    { pendingRelease: 'r000003' },
  ],
  ['deployRequested: not while deleting', deployRequested('r000003'), app({ status: 'deleting' }), 'unchanged'],
  ['deploying: from running', deploying(), app(), { status: 'deploying' }],
  ['deploying: not while deleting', deploying(), app({ status: 'deleting' }), 'unchanged'],
  [
    "switched (deploy): release, commit and every node's instances; the pending release ends",
    switched([i('a', 2, 'r000003')], { release: 'r000003', commit: 'c3', endsPendingRelease: true }),
    app({ status: 'deploying', pendingRelease: 'r000003', lastError: 'old' }),
    {
      status: 'running',
      release: 'r000003',
      commit: 'c3',
      instances: [i('a', 2, 'r000003')],
      lastError: undefined,
      pendingRelease: undefined,
    },
  ],
  [
    "switched (no web process): no instance, the formation says so; the old release's workers leave",
    switched([], { release: 'r000003', endsPendingRelease: true, formation: { worker: 1 } }),
    app({ status: 'deploying', pendingRelease: 'r000003', instances: [i('a', 0), w('a', 1, 'r000002')] }),
    {
      status: 'running',
      release: 'r000003',
      instances: [],
      formation: { worker: 1 },
      lastError: undefined,
      pendingRelease: undefined,
    },
  ],
  [
    'switched (no web process): already switched, nothing again',
    switched([], { release: 'r000003', endsPendingRelease: true, formation: { worker: 1 } }),
    app({ release: 'r000003', instances: [w('a', 1)], formation: { worker: 1 } }),
    'unchanged',
  ],
  [
    'processesStarted: the workers join the instances after the switch',
    processesStarted('r000003', [w('b', 3)]),
    app({ release: 'r000003', instances: [i('a', 2, 'r000003')] }),
    { instances: [i('a', 2, 'r000003'), w('b', 3)] },
  ],
  [
    'processesStarted: not for a release the app no longer runs',
    processesStarted('r000003', [w('b', 3)]),
    app(),
    'unchanged',
  ],
  [
    "switched (rollback): restores the release's configuration, leaves a newer pending deploy",
    switched([i('a', 3, 'r000001')], {
      release: 'r000001',
      commit: 'c1',
      endsPendingRelease: false,
      restored: { port: 4000 },
    }),
    app({ status: 'crashed', pendingRelease: 'r000004' }),
    {
      status: 'running',
      release: 'r000001',
      commit: 'c1',
      port: 4000,
      instances: [i('a', 3, 'r000001')],
      lastError: undefined,
    },
  ],
  [
    'switched: already serving exactly those instances (another node switched)',
    switched([i('b', 1), i('a', 0)], { release: 'r000002', endsPendingRelease: true }),
    app(),
    'unchanged',
  ],
  [
    'deployFailed: an app that never ran is failed',
    deployFailed('r000001', 'build failed', 'deploying'),
    app({ status: 'deploying', release: undefined, instances: [], pendingRelease: 'r000001' }),
    { status: 'failed', lastError: 'build failed', pendingRelease: undefined },
  ],
  [
    'deployFailed: a running app keeps running its release',
    deployFailed('r000003', 'build failed', 'running'),
    app({ status: 'deploying', pendingRelease: 'r000003' }),
    { status: 'running', lastError: 'build failed', pendingRelease: undefined },
  ],
  [
    'deployFailed: a stopped app stays stopped',
    deployFailed('r000003', 'build failed', 'stopped'),
    app({ status: 'deploying', pendingRelease: 'r000003', instances: [] }),
    { status: 'stopped', lastError: 'build failed', pendingRelease: undefined },
  ],
  [
    'deployFailed: superseded by a newer deploy',
    deployFailed('r000003', 'build failed', 'running'),
    app({ status: 'deploying', pendingRelease: 'r000004' }),
    'unchanged',
  ],
  [
    'operationFailed: only lastError',
    operationFailed('restart', 'app exited'),
    app(),
    { lastError: 'restart failed: app exited' },
  ],
  ['operationFailed: not while deleting', operationFailed('restart', 'x'), app({ status: 'deleting' }), 'unchanged'],
  ["stopped: this node's instances leave", stopped('a'), app(), { status: 'stopped', instances: [i('b', 1)] }],
  ['stopped: not while deleting', stopped('a'), app({ status: 'deleting' }), 'unchanged'],
  [
    'instanceLost: leaves the list, from the current document',
    instanceLost('r000002', i('a', 0).container, 'exited', false),
    app(),
    { instances: [i('b', 1)], lastError: 'exited' },
  ],
  [
    'instanceLost: given up with other instances left, still running',
    instanceLost('r000002', i('a', 0).container, 'crash loop', true),
    app(),
    { instances: [i('b', 1)], lastError: 'crash loop' },
  ],
  [
    'instanceLost: given up on the last instance, crashed',
    instanceLost('r000002', i('a', 0).container, 'crash loop', true),
    app({ instances: [i('a', 0)] }),
    { status: 'crashed', instances: [], lastError: 'crash loop' },
  ],
  [
    'instanceLost: only for a running app',
    instanceLost('r000002', i('a', 0).container, 'x', true),
    app({ status: 'stopped' }),
    'unchanged',
  ],
  [
    'instanceLost: a failure of an older release leaves a newer one alone',
    instanceLost('r000001', i('a', 0, 'r000001').container, 'exited', false),
    app(),
    'unchanged',
  ],
  [
    'instanceLost: a failure of an older release, even one given up on, crashes nothing',
    instanceLost('r000001', i('a', 0, 'r000001').container, 'crash loop', true),
    app({ instances: [] }),
    'unchanged',
  ],
  [
    'instanceBack: rejoins the list',
    instanceBack('r000002', i('a', 0)),
    app({ instances: [i('b', 1)] }),
    { instances: [i('b', 1), i('a', 0)] },
  ],
  ['instanceBack: not after a redeploy switched', instanceBack('r000001', i('a', 0)), app(), 'unchanged'],
  ['instanceBack: not once stopped', instanceBack('r000002', i('a', 0)), app({ status: 'stopped' }), 'unchanged'],
  [
    'overDiskLimit: the last instances stopped, crashed',
    overDiskLimit('r000002', [i('a', 0).container, i('b', 1).container], 'over 10 MiB'),
    app(),
    { status: 'crashed', instances: [], lastError: 'over 10 MiB' },
  ],
  [
    'overDiskLimit: a stopped app stays stopped',
    overDiskLimit('r000002', [i('a', 0).container], 'over 10 MiB'),
    app({ status: 'stopped' }),
    { instances: [i('b', 1)], lastError: 'over 10 MiB' },
  ],
  ['overDiskLimit: another release', overDiskLimit('r000001', [i('a', 0).container], 'x'), app(), 'unchanged'],
  ['onlyIf: the guard holds', onlyIf((d) => d.uid === 'u1', deploying()), app(), { status: 'deploying' }],
  ['onlyIf: the guard fails', onlyIf((d) => d.uid === 'u2', deploying()), app(), 'unchanged'],
];

describe('app state transitions', () => {
  for (const [title, transition, before, change] of cases) {
    it(title, () => {
      const frozen = structuredClone(before);
      const after = transition.apply(before);
      expect(before, 'the input is not changed').to.deep.equal(frozen);
      if (change === 'unchanged') expect(after).to.equal(undefined);
      else expect(after).to.deep.equal({ ...before, ...change });
    });
  }

  it('announce exactly the transitions that change what serves the app', () => {
    const announcing = cases.filter(([, t]) => t.announces).map(([, t]) => t.name);
    expect([...new Set(announcing)].sort()).to.deep.equal([
      'instanceBack',
      'instanceLost',
      'overDiskLimit',
      'processesStarted',
      'stopped',
      'switched',
    ]);
  });
});
