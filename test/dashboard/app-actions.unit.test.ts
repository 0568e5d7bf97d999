import { expect } from 'chai';

type Json = Record<string, unknown>;
// Browser modules, plain JavaScript: imported by URL so TypeScript does not look for their types.
const load = (file: string) => import(new URL(`../../src/dashboard/public/js/${file}`, import.meta.url).href);
const scale: { formationRows(app: Json): [string, number][] } = await load('scale-view.js');
const releases: { rollbackProblem(release: Json): string; causeLines(release: Json): string[] } =
  await load('releases-view.js');
type RepoValues = {
  url: string;
  branch: string;
  path: string;
  token?: string;
  username?: string;
  removeToken?: boolean;
};
const repo: {
  repoChange(current: Json | undefined, values: RepoValues): Json;
  tokenNote(change: Json, body: Json): string;
} = await load('repo-view.js');
const hooks: { webhookState(webhook: Json | null): string } = await load('webhook-view.js');
const account: { userRequest(values: Json): Json } = await load('account-view.js');
const build: { buildChange(app: Json, values: Json): Json } = await load('build-view.js');
const nodes: { diskUseWords(disk: Json | undefined): string } = await load('nodes-view.js');
const volumes: {
  volumesWith(current: Json[], volume: Json): Json[];
  volumesWithout(current: Json[], name: string): Json[];
  volumeUse(volume: Json): string;
} = await load('volumes-view.js');
const schedules: {
  runNote(run: Json): string;
  runState(run: Json): string;
  scheduleRequest(values: Record<string, string>): Json;
} = await load('schedules-view.js');
const format: {
  seconds(ms: unknown): string;
  quotaWords(quotas: Json): string;
  byteSize(bytes: unknown): string;
  redeployNote(body: Json): string;
  shortDate(iso: unknown, seconds?: boolean): string;
} = await load('format.js');

describe("dashboard: the Manage panel's pure parts", function () {
  const current = { url: 'https://github.com/me/web.git', branch: 'main', hasToken: true };
  const repoChanges: [string, RepoValues, Json, Json?][] = [
    ['nothing changed (spaces trimmed)', { url: ` ${current.url} `, branch: 'main', path: '' }, {}],
    ['another branch', { url: current.url, branch: 'release', path: '' }, { branch: 'release' }],
    ["an emptied branch: the repository's default", { url: current.url, branch: ' ', path: '' }, { branch: null }],
    ['a folder', { url: current.url, branch: 'main', path: 'packages/web' }, { path: 'packages/web' }],
    [
      'another URL alone',
      { url: 'https://git.example.org/me/web.git', branch: 'main', path: '' },
      { url: 'https://git.example.org/me/web.git' },
    ],
    ['a new token (trimmed)', { url: current.url, branch: 'main', path: '', token: ' ghp_2 ' }, { token: 'ghp_2' }],
    [
      'a new token with its user',
      { url: current.url, branch: 'main', path: '', token: 'app-pass', username: ' alice ' },
      { token: 'app-pass', username: 'alice' },
    ],
    ['the kept token removed', { url: current.url, branch: 'main', path: '', removeToken: true }, { token: null }],
    [
      'no token to remove: nothing',
      { url: current.url, branch: 'main', path: '', removeToken: true },
      {},
      { ...current, hasToken: false },
    ],
  ];
  for (const [what, values, change, from = current] of repoChanges) {
    it(`source tab: ${what}`, () => expect(repo.repoChange(from, values)).to.deep.equal(change));
  }

  const app = (hasToken: boolean) => ({ repo: { url: current.url, hasToken } });
  const tokenNotes: [string, Json, Json, string][] = [
    ['no token change: nothing said', {}, { changed: ['repo.branch'], app: app(true) }, ''],
    [
      'a token for a running app: kept, for the next clone',
      { token: 't' },
      { changed: ['repo.token'], redeploy: false, app: app(true) },
      ' The new token is kept (encrypted, never shown). "Deploy the latest commit" clones with it now.',
    ],
    [
      'a token that deploys an app that never ran',
      { token: 't' },
      { changed: ['repo.token'], job: { id: 'j' }, app: app(true) },
      ' The new token is kept (encrypted, never shown).',
    ],
    [
      'removed',
      { token: null },
      { changed: ['repo.token'], redeploy: false, app: app(false) },
      ' The token was removed: the next clone goes without credentials. "Deploy the latest commit" clones without it now.',
    ],
    [
      'dropped with a move to another server',
      { url: 'https://other.example/x.git' },
      { changed: ['repo.url', 'repo.token'], job: { id: 'j' }, app: app(false) },
      ' The token was for another server and was dropped.',
    ],
  ];
  for (const [what, change, body, note] of tokenNotes) {
    it(`source tab, token note: ${what}`, () => expect(repo.tokenNote(change, body)).to.equal(note));
  }

  const built = {
    runtime: 'node',
    builder: 'auto',
    build: ['npm ci'],
    run: null,
    scale: { healthCheck: { path: null } },
  };
  const unchanged = {
    runtime: 'node',
    builder: 'auto',
    dockerfile: '',
    context: '',
    build: 'npm ci',
    run: '',
    health: '',
  };
  const buildChanges: [string, Json, Json, Json?][] = [
    ['nothing changed (spaces and empty lines ignored)', { ...unchanged, build: ' npm ci \n\n' }, {}],
    ['another runtime', { ...unchanged, runtime: 'python' }, { runtime: 'python' }],
    [
      'an app without a runtime keeps none when "none" stays chosen',
      { ...unchanged, runtime: '' },
      {},
      { ...built, runtime: null },
    ],
    ['a builder', { ...unchanged, builder: 'dockerfile' }, { builder: 'dockerfile' }],
    [
      'a Dockerfile and its context',
      { ...unchanged, dockerfile: 'api/Dockerfile', context: 'api' },
      { dockerfile: { path: 'api/Dockerfile', context: 'api' } },
    ],
    [
      'an emptied Dockerfile: the default',
      { ...unchanged },
      { dockerfile: null },
      { ...built, dockerfile: { path: 'api/Dockerfile' } },
    ],
    [
      'build commands, one per line',
      { ...unchanged, build: 'npm ci\nnpm run build' },
      { build: ['npm ci', 'npm run build'] },
    ],
    ["emptied build commands: the runtime's default", { ...unchanged, build: '' }, { build: null }],
    ['a run command', { ...unchanged, run: ' node server.js ' }, { run: 'node server.js' }],
    ['a health path', { ...unchanged, health: '/health' }, { healthCheck: { path: '/health' } }],
    [
      'an emptied health path: none',
      { ...unchanged },
      { healthCheck: {} },
      { ...built, scale: { healthCheck: { path: '/up' } } },
    ],
  ];
  for (const [what, values, change, from = built] of buildChanges)
    it(`build tab: ${what}`, () => expect(build.buildChange(from, values)).to.deep.equal(change));

  it("nodes: Gasper's disk use by category, or that it is not measured yet", () => {
    expect(nodes.diskUseWords(undefined)).to.equal('not measured yet');
    const mib = 1024 ** 2;
    expect(
      nodes.diskUseWords({
        releasesBytes: 10 * mib,
        imagesBytes: 2048 * mib,
        cachesBytes: 300 * mib,
        containersBytes: 1024,
        volumesBytes: 0,
        logsBytes: 5 * mib,
      }),
    ).to.equal(
      'releases 10.0 MiB, images 2.0 GiB, build caches 300.0 MiB, containers 1.0 KiB, volumes 0 B, logs 5.0 MiB',
    );
  });

  const userRequests: [string, Json, Json][] = [
    ['a member with no quotas', { name: ' alice ', role: 'member' }, { name: 'alice', role: 'member' }],
    [
      'an admin with quotas, empty ones left out (no limit)',
      { name: 'bob', role: 'admin', maxApps: '3', maxDatabases: ' ', maxCpu: '1.5', maxMemoryMb: '' },
      { name: 'bob', role: 'admin', quotas: { maxApps: 3, maxCpu: 1.5 } },
    ],
    [
      'a quota that is not a number: sent as typed, for the API to name',
      { name: 'c', role: 'member', maxApps: 'lots' },
      { name: 'c', role: 'member', quotas: { maxApps: 'lots' } },
    ],
  ];
  for (const [what, values, body] of userRequests)
    it(`account, new user: ${what}`, () => expect(account.userRequest(values)).to.deep.equal(body));

  it('account: quotas in words', () => {
    expect(format.quotaWords({})).to.equal('none');
    expect(format.quotaWords({ maxApps: 3, maxDatabases: 1, maxCpu: 2, maxMemoryMb: 1024 })).to.equal(
      'apps ≤ 3, databases ≤ 1, CPU ≤ 2, memory ≤ 1024 MiB',
    );
  });

  const webhookStates: [string, Json | null, string][] = [
    ['none', null, 'Pushes do not deploy the app yet: set up a GitHub webhook to deploy each push to its branch.'],
    [
      'set up, nothing pushed',
      { createdAt: '2026-12-01T09:00:00.000Z', lastPushAt: null },
      "A GitHub webhook deploys each push to the app's branch: set up 2026-12-01 09:00 UTC, no push deployed yet.",
    ],
    [
      'with a push deployed',
      { createdAt: '2026-12-01T09:00:00.000Z', lastPushAt: '2026-12-02T08:30:00.000Z' },
      "A GitHub webhook deploys each push to the app's branch: set up 2026-12-01 09:00 UTC, the newest push deployed reached GitHub 2026-12-02 08:30 UTC.",
    ],
  ];
  for (const [what, webhook, text] of webhookStates)
    it(`source tab, push deploys: ${what}`, () => expect(hooks.webhookState(webhook)).to.equal(text));

  const formations: [string, Json, [string, number][]][] = [
    ['web only', { formation: { desired: { web: 2 }, running: null } }, [['web', 2]]],
    [
      "the release's types too, with 0 when none is asked for, web first then by name",
      { formation: { desired: { web: 1, worker: 2 }, running: { web: 1, worker: 2, clock: 0 } } },
      [
        ['web', 1],
        ['clock', 0],
        ['worker', 2],
      ],
    ],
    ['an API without formation: its instances as web', { scale: { instances: 3 } }, [['web', 3]]],
    ['nothing at all: one web', {}, [['web', 1]]],
  ];
  for (const [what, app, rows] of formations)
    it(`formation rows: ${what}`, function () {
      expect(scale.formationRows(app)).to.deep.equal(rows);
    });

  const served = { timings: { activatedAt: ['2026-01-01T00:00:00Z'] } };
  const rollbacks: [string, Json, string][] = [
    ['an earlier release that served, on disk', { ...served, status: 'superseded', onDisk: true }, ''],
    ['the serving one', { ...served, status: 'active', onDisk: true, current: true }, 'serving now'],
    ['a failed build', { timings: { activatedAt: [] }, status: 'failed', onDisk: true }, 'never ran successfully'],
    ['one that failed after serving', { ...served, status: 'failed', onDisk: true }, 'never ran successfully'],
    [
      'one that never started',
      { timings: { activatedAt: [] }, status: 'cancelled', onDisk: true },
      'never ran successfully',
    ],
    ['one pruned from disk', { ...served, status: 'superseded', onDisk: false }, 'pruned from disk'],
  ];
  for (const [what, release, problem] of rollbacks)
    it(`roll back to ${what}: ${problem || 'offered'}`, function () {
      expect(releases.rollbackProblem(release)).to.equal(problem);
    });

  for (const [bytes, text] of [
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [3 * 1024 ** 2, '3.0 MiB'],
    [5 * 1024 ** 4, '5120.0 GiB'],
    [undefined, '—'],
  ] as const)
    it(`backup size ${String(bytes)} -> ${text}`, function () {
      expect(format.byteSize(bytes)).to.equal(text);
    });

  for (const [iso, text] of [
    ['2026-03-01T12:00:59.000Z', '2026-03-01 12:00 UTC'],
    ['not a date', '—'],
    [undefined, '—'],
  ] as const)
    it(`a date ${String(iso)} -> ${text}`, function () {
      expect(format.shortDate(iso)).to.equal(text);
    });

  for (const [body, text] of [
    [{ redeploy: true, job: { id: 'deploy-a-1-r000002' } }, 'redeploy queued (job deploy-a-1-r000002)'],
    [{ job: { id: 'deploy-a-1-r000003' } }, 'redeploy queued (job deploy-a-1-r000003)'],
    [{ redeploy: false, changed: ['healthCheck'] }, 'applied, no redeploy needed'],
    [{ redeploy: false, changed: [] }, 'nothing changed'],
  ] as const)
    it(`a PATCH answer in words: ${text}`, function () {
      expect(format.redeployNote(body)).to.equal(text);
    });

  // As GET /apps/:name shows them: what each uses is added, and goes nowhere in a PATCH.
  const shown = [
    { name: 'data', path: '/data', size: 1024, usedBytes: 5, overSize: false },
    { name: 'cache', path: '/cache', size: null, usedBytes: null, overSize: false },
  ];
  const volumeLists: [string, Json[], Json[]][] = [
    [
      'a new volume: added last, the others sent back as declared',
      volumes.volumesWith(shown, { name: 'uploads', path: '/uploads' }),
      [
        { name: 'data', path: '/data', size: 1024 },
        { name: 'cache', path: '/cache' },
        { name: 'uploads', path: '/uploads' },
      ],
    ],
    [
      "a volume's new path and size: it replaces the old in its place",
      volumes.volumesWith(shown, { name: 'data', path: '/srv/data', size: 2048 }),
      [
        { name: 'data', path: '/srv/data', size: 2048 },
        { name: 'cache', path: '/cache' },
      ],
    ],
    [
      'a volume saved unchanged: the list as declared, in its order',
      volumes.volumesWith(shown, { name: 'data', path: '/data', size: 1024 }),
      [
        { name: 'data', path: '/data', size: 1024 },
        { name: 'cache', path: '/cache' },
      ],
    ],
    ['one unmounted', volumes.volumesWithout(shown, 'data'), [{ name: 'cache', path: '/cache' }]],
    [
      'a name not there: the list as declared',
      volumes.volumesWithout(shown, 'nope'),
      shown.map(({ name, path, size }) => (size ? { name, path, size } : { name, path })),
    ],
  ];
  for (const [what, list, expected] of volumeLists)
    it(`volumes tab: ${what}`, function () {
      expect(list).to.deep.equal(expected);
    });

  for (const [volume, text] of [
    [{ usedBytes: null }, 'not measured yet'],
    [{ usedBytes: 1536, overSize: false }, '1.5 KiB'],
    [{ usedBytes: 3 * 1024 ** 2, overSize: true }, '3.0 MiB (over its size)'],
  ] as const)
    it(`a volume's use in words: ${text}`, function () {
      expect(volumes.volumeUse(volume)).to.equal(text);
    });

  const requests: [string, Record<string, string>, Json][] = [
    [
      'trimmed, UTC left to the API',
      { schedule: ' 0 3 * * * ', command: ' npm run report ', timezone: ' ', overlap: 'skip' },
      { schedule: '0 3 * * *', command: 'npm run report', overlap: 'skip' },
    ],
    [
      'a time zone and overlapping runs',
      { schedule: '*/10 * * * *', command: 'node sync.js', timezone: 'Europe/Paris', overlap: 'allow' },
      { schedule: '*/10 * * * *', command: 'node sync.js', timezone: 'Europe/Paris', overlap: 'allow' },
    ],
  ];
  for (const [what, values, body] of requests)
    it(`schedules tab: the request, ${what}`, function () {
      expect(schedules.scheduleRequest(values)).to.deep.equal(body);
    });

  for (const [run, note] of [
    [{ state: 'skipped', reason: 'the app is stopped' }, 'the app is stopped'],
    [{ state: 'failed', error: 'exited with 2' }, 'exited with 2'],
    [{ state: 'completed', exitCode: 137, timedOut: true }, 'killed at the time limit'],
    [{ state: 'completed', exitCode: 0 }, ''],
  ] as const)
    it(`a scheduled run's note: ${note || 'none'}`, function () {
      expect(schedules.runNote(run)).to.equal(note);
    });

  for (const [run, state] of [
    [{ state: 'completed', exitCode: 0 }, 'succeeded'],
    [{ state: 'completed', exitCode: 3 }, 'failed'],
    [{ state: 'failed', exitCode: null }, 'failed'],
    [{ state: 'active' }, 'running'],
    [{ state: 'waiting' }, 'queued'],
    [{ state: 'delayed' }, 'queued'],
    [{ state: 'skipped' }, 'skipped'],
  ] as const)
    it(`a scheduled run, ${JSON.stringify(run)}, is ${state}`, function () {
      expect(schedules.runState(run)).to.equal(state);
    });

  it('a date to the second', function () {
    expect(format.shortDate('2026-03-01T12:00:59.900Z', true)).to.equal('2026-03-01 12:00:59 UTC');
  });

  for (const [ms, text] of [
    [1234, '1.2 s'],
    [185_000, '3 min 5 s'],
    [null, '—'],
  ] as const)
    it(`a run's duration ${String(ms)} -> ${text}`, function () {
      expect(format.seconds(ms)).to.equal(text);
    });

  it("a release's causes, one line each, oldest first; none for a release from before they were kept", function () {
    const causes = [
      { by: 'alice', reason: 'set GREETING', at: '2026-01-01T00:00:00Z' },
      { by: 'bob', reason: 'rollback from r000004', at: '2026-01-02T00:00:00Z' },
    ];
    expect(releases.causeLines({ causes })).to.deep.equal(['alice: set GREETING', 'bob: rollback from r000004']);
    expect(releases.causeLines({})).to.deep.equal([]);
  });
});
