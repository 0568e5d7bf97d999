import { expect } from 'chai';
import { drainReport, nodeDetails, nodeRows } from '../../src/client/node-commands.ts';

const gib = 1024 ** 3;
const node = {
  id: 'n1',
  address: '10.0.0.2',
  state: 'up',
  draining: false,
  capacity: { cpus: 4, memoryBytes: 16 * gib, diskBytes: 100 * gib },
  usage: { load1PerCpu: 0.25, memoryUsedBytes: 3 * gib, diskFreeBytes: 40 * gib },
  reserved: { cpu: 1.5, memoryBytes: 2 * gib },
  apps: ['web', 'api'],
  databases: ['shop'],
  staying: [],
  diskUse: {
    measuredAt: '2026-12-01T10:00:00.000Z',
    releasesBytes: 10 * 1024 ** 2,
    imagesBytes: 2 * gib,
    images: 4,
    cachesBytes: 300 * 1024 ** 2,
    containersBytes: 1024,
    volumesBytes: 0,
    logsBytes: 5 * 1024 ** 2,
  },
  startedAt: '2026-12-01T09:00:00.000Z',
  heartbeatAt: '2026-12-01T10:00:05.000Z',
};

describe('gasper nodes (text)', () => {
  it('lists a node per row: state, what placement reserved of what it has, free disk, counts', () => {
    const down = { ...node, id: 'n2', state: 'down', draining: true, usage: undefined, apps: [], databases: [] };
    expect(nodeRows([node, down]).split('\n')).to.deep.equal([
      'NODE  STATE           ADDRESS   CPU RESERVED  MEMORY RESERVED      DISK FREE  APPS  DATABASES',
      'n1    up              10.0.0.2  1.5 of 4      2.0 GiB of 16.0 GiB  40.0 GiB   2     1',
      'n2    down, draining  10.0.0.2  1.5 of 4      2.0 GiB of 16.0 GiB  -          0     0',
    ]);
  });

  it("shows a node with Gasper's disk use by category, and what stays on it", () => {
    const text = nodeDetails({
      ...node,
      draining: true,
      staying: [{ database: 'shop', reason: 'its data is on this node' }],
    });
    expect(text).to.include('n1  (up, draining)');
    expect(text).to.include('  cpu:         1.5 of 4 reserved, load 0.25 per CPU');
    expect(text).to.include('  memory:      2.0 GiB of 16.0 GiB reserved, 3.0 GiB in use');
    expect(text).to.include('  disk:        40.0 GiB free of 100.0 GiB');
    expect(text).to.include(
      "  gasper's disk use (2026-12-01 10:00 UTC): releases 10.0 MiB, images 2.0 GiB (4), build caches 300.0 MiB, containers 1.0 KiB, volumes 0 B, logs 5.0 MiB",
    );
    expect(text).to.include('  stays here:  database shop (its data is on this node)');
  });

  it('reports a drain: each app moved with its job, each not moved and why, what stays', () => {
    expect(
      drainReport('n1', {
        moved: [
          { app: 'web', to: 'n2', placement: ['n2'], job: 'deploy-web-1-r000004' },
          { app: 'new', to: 'n3', placement: ['n3'] },
        ],
        unplaced: [{ app: 'big', reason: 'no other node has 8 CPU free' }],
        staying: [{ database: 'shop', reason: 'its data is on this node' }],
      }).split('\n'),
    ).to.deep.equal([
      'n1 draining: nothing new is placed there, and its apps are redeployed elsewhere',
      '  moved:      app web to n2 (job deploy-web-1-r000004)',
      '  moved:      app new to n3',
      '  not moved:  app big (no other node has 8 CPU free)',
      '  stays:      database shop (its data is on this node)',
    ]);
  });
});
