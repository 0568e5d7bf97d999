import { expect } from 'chai';
import {
  databaseHoldsCapacity,
  demandsOf,
  holdsCapacity,
  instanceCountOf,
} from '../../../src/api/cluster/node-placement.ts';
import type { AppDocument } from '../../../src/store/app-document.ts';
import type { DatabaseDocument } from '../../../src/store/database-document.ts';

const MiB = 1024 ** 2;
const instance = { container: 'gasper-web-r000001-0', node: 'n1', address: '127.0.0.1', port: 30001 };

const app = (status: AppDocument['status'], extra: Partial<AppDocument> = {}): AppDocument => ({
  name: 'web',
  owner: 'admin',
  uid: 'u1',
  repo: { url: 'https://example.com/web.git' },
  runtime: 'node',
  port: 8080,
  sealedEnv: {},
  node: 'n1',
  status,
  instances: [],
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  ...extra,
});
const database = (status: DatabaseDocument['status']) =>
  ({ name: 'db', node: 'n1', status, resources: { cpus: 0.5, memoryMb: 256 } }) as unknown as DatabaseDocument;

describe('node-placement: what holds room on a node', () => {
  const apps: [string, AppDocument, boolean][] = [
    ['a queued app (its first deploy is coming)', app('queued'), true],
    ['a deploying app', app('deploying'), true],
    ['a running app', app('running', { instances: [instance] }), true],
    ['a failed app with no container', app('failed'), false],
    ['a failed app being deployed again', app('failed', { pendingRelease: 'r000002' }), true],
    ['a stopped app', app('stopped', { release: 'r000001' }), false],
    ['a crashed app whose restarts gave up (no instance left)', app('crashed', { release: 'r000001' }), false],
    ['a crashed app that still has an instance', app('crashed', { instances: [instance] }), true],
    ['an app being deleted, even with instances', app('deleting', { instances: [instance] }), false],
  ];
  for (const [what, doc, holds] of apps) {
    it(`${what}: ${holds ? 'holds' : 'holds nothing'}`, () => expect(holdsCapacity(doc)).to.equal(holds));
  }

  const databases: [DatabaseDocument['status'], boolean][] = [
    ['queued', true],
    ['provisioning', true],
    ['running', true],
    ['restarting', true],
    ['down', true],
    ['failed', false],
    ['deleting', false],
  ];
  for (const [status, holds] of databases) {
    it(`a ${status} database: ${holds ? 'holds' : 'holds nothing'}`, () =>
      expect(databaseHoldsCapacity(database(status))).to.equal(holds));
  }

  it('names each demand after its holder, one per instance', () => {
    const placed = app('running', {
      name: 'api',
      placement: ['n1', 'n2'],
      instanceCount: 2,
      instances: [instance],
      resources: { cpu: 0.5, memory: 128 },
    });
    expect(
      demandsOf([placed, app('failed', { name: 'broken' })], [database('running'), database('failed')]),
    ).to.deep.equal([
      { node: 'n1', holder: 'app api', cpu: 0.5, memoryBytes: 128 * MiB },
      { node: 'n2', holder: 'app api', cpu: 0.5, memoryBytes: 128 * MiB },
      { node: 'n1', holder: 'database db', cpu: 0.5, memoryBytes: 256 * MiB },
    ]);
  });

  describe('containers placed: every process type, each like a web instance', () => {
    const rows: [string, object, number][] = [
      ['a document from before process types', { instanceCount: 3 }, 3],
      ['a create request with instances', { instances: 2 }, 2],
      ['web 2 and a worker', { instanceCount: 2, processes: { worker: 1 } }, 3],
      ['a type at 0 holds nothing', { processes: { worker: 0, clock: 2 } }, 3],
      ['web scaled to 0', { instances: 2, processes: { web: 0, worker: 1 } }, 1],
    ];
    for (const [what, source, count] of rows) {
      it(`${what}: ${count}`, () => expect(instanceCountOf(source)).to.equal(count));
    }
  });
});
