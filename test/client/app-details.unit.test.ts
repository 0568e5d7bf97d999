import { expect } from 'chai';
import { appDetails, processCounts } from '../../src/client/app-details.ts';

const app = {
  name: 'web',
  status: 'running',
  url: 'https://web.apps.example.com',
  repo: { url: 'https://github.com/me/web.git', branch: 'main' },
  runtime: 'node',
  release: 'r000003',
  commit: '0123456789abcdef0123',
  owner: 'alice',
  envKeys: ['DATABASE_URL', 'NODE_ENV'],
  databases: ['shop-db'],
  scale: { instances: 2, resources: { cpu: 0.5, memory: 512 } },
  https: 'redirect',
  hsts: true,
  instances: [{ node: 'n1', host: '10.0.0.2', port: 41000, container: 'gasper-web-r000003-0' }],
  lastError: null,
  lastJob: { id: 'deploy-web-1-r000003' },
};

describe('gasper apps show (text)', () => {
  it('counts processes from `processes` when the API has them, else instances as web', () => {
    expect(processCounts(app)).to.deep.equal([['web', 2]]);
    expect(processCounts({ ...app, processes: { web: 2, worker: 1 } })).to.deep.equal([
      ['web', 2],
      ['worker', 1],
    ]);
    expect(processCounts({ processes: { web: { instances: 3 } } })).to.deep.equal([['web', 3]]);
  });

  it("lists the release's declared process types at 0 when they are not asked for", () => {
    const formation = { desired: { web: 1 }, running: { web: 1, worker: 0, clock: 0 } };
    expect(processCounts({ formation })).to.deep.equal([
      ['web', 1],
      ['clock', 0],
      ['worker', 0],
    ]);
    expect(processCounts({ formation: { desired: { worker: 2, web: 1 }, running: null } })).to.deep.equal([
      ['web', 1],
      ['worker', 2],
    ]);
  });

  it('lists linked databases, domains, processes, HTTPS settings and the last deploy', () => {
    const text = appDetails(
      app,
      [
        { domain: 'shop.example.com', status: 'issued', notAfter: '2027-03-01T00:00:00.000Z' },
        { domain: 'www.example.com', status: 'pending' },
      ],
      {
        id: 'r000003',
        status: 'active',
        commit: '0123456789abcdef0123',
        timings: { createdAt: '2026-12-01T10:00:00.000Z', finishedAt: '2026-12-01T10:01:05.000Z', durationMs: 65_000 },
      },
    );
    expect(text).to.include('  processes:  web=2  (each 0.5 CPU, 512 MiB)');
    expect(text).to.include('  repo:       https://github.com/me/web.git (main)\n');
    expect(appDetails({ ...app, repo: { ...app.repo, path: 'packages/web' } })).to.include(
      '  repo:       https://github.com/me/web.git (main), folder packages/web\n',
    );
    expect(text).to.include('  https:      redirect, HSTS');
    expect(text).to.include('  webhook:    -');
    const hooked = { ...app, webhook: { createdAt: '2026-12-01T09:00:00.000Z', lastPushAt: null } };
    expect(appDetails(hooked)).to.include('  webhook:    set up 2026-12-01 09:00 UTC\n');
    expect(
      appDetails({ ...hooked, webhook: { ...hooked.webhook, lastPushAt: '2026-12-02T08:30:00.000Z' } }),
    ).to.include('  webhook:    set up 2026-12-01 09:00 UTC, last push 2026-12-02 08:30 UTC\n');
    expect(text).to.include('  databases:  shop-db');
    expect(text).to.include('  domains:    shop.example.com (issued, until 2027-03-01 00:00 UTC)');
    expect(text).to.include('              www.example.com (pending)');
    expect(text).to.include('  last deploy: r000003 active, commit 0123456789ab, 2026-12-01 10:01 UTC (1 min 5 s)');
  });

  it('says "-" where there is nothing, and shows a failed deploy\'s error', () => {
    const text = appDetails({ ...app, databases: [] }, [], {
      id: 'r000004',
      status: 'failed',
      error: 'build failed: npm ci exited 1',
      timings: { createdAt: '2026-12-01T11:00:00.000Z' },
    });
    expect(text).to.include('  databases:  -');
    expect(text).to.include('  domains:    -');
    expect(text).to.include('  last deploy: r000004 failed, commit -, 2026-12-01 11:00 UTC');
    expect(text).to.include('    build failed: npm ci exited 1');
    expect(appDetails(app)).to.include('  last deploy: -');
  });
});
