import { expect } from 'chai';
import { planPatch } from '../../src/api/app-patch.ts';
import { patchAppRequest } from '../../src/api/app-patch-request.ts';
import { defaultResourcePolicy } from '../../src/core/resources.ts';
import type { AppDocument } from '../../src/store/app-document.ts';

const doc: AppDocument = {
  name: 'blog',
  owner: 'admin',
  uid: 'u1',
  repo: { url: 'https://example.com/blog.git' },
  runtime: 'node',
  build: ['npm ci'],
  run: 'node server.js',
  port: 8080,
  sealedEnv: { A: 'sealed-a', B: 'sealed-b' },
  node: 'n1',
  status: 'running',
  release: 'r000002',
  instances: [],
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
};
const seal = (v: string) => `sealed(${v})`;
const plan = (body: unknown) => planPatch(doc, patchAppRequest().parse(body), seal, defaultResourcePolicy);

describe('app-patch', () => {
  const cases: [string, unknown, string[], boolean][] = [
    ['a new env value', { env: { C: 'x' } }, ['env'], true],
    ['an env value removed', { env: { A: null } }, ['env'], true],
    ['removing an env value that is not set', { env: { Z: null } }, [], false],
    ['new build commands', { build: ['npm ci', 'npm run build'] }, ['build'], true],
    ['the same build commands', { build: ['npm ci'] }, [], false],
    ['build back to the default', { build: null }, ['build'], true],
    ['no build at all ([]), after build commands', { build: [] }, ['build'], true],
    ['a new run command', { run: 'node other.js' }, ['run'], true],
    ['the same run command', { run: 'node server.js' }, [], false],
    ['more instances', { instances: 3 }, ['instances'], true],
    ['the default instance count given explicitly', { instances: 1 }, [], false],
    ['more memory', { resources: { memory: 1024 } }, ['resources'], true],
    ['a worker scaled up', { processes: { worker: 2 } }, ['processes'], true],
    ['a type set to 0 that was not running', { processes: { worker: 0 } }, [], false],
    ['web given its default count in processes', { processes: { web: 1 } }, [], false],
    ['web scaled to 0', { processes: { web: 0 } }, ['processes'], true],
    [
      'the default memory given explicitly',
      { resources: { memory: defaultResourcePolicy.defaultMemoryMb } },
      [],
      false,
    ],
    ['a health check path only', { healthCheck: { path: '/healthz' } }, ['healthCheck'], false],
    ['health path and instances', { healthCheck: { path: '/up' }, instances: 2 }, ['instances', 'healthCheck'], true],
    ['another repository', { repo: { url: 'https://example.com/shop.git' } }, ['repo.url'], true],
    ['the same repository', { repo: { url: 'https://example.com/blog.git' } }, [], false],
    ['a branch', { repo: { branch: 'release' } }, ['repo.branch'], true],
    ['the default branch when none was set', { repo: { branch: null } }, [], false],
    ['a folder', { repo: { path: './web/' } }, ['repo.path'], true],
    ['the root when it was the root', { repo: { path: '.' } }, [], false],
    ['a token alone (the next clone uses it)', { repo: { token: 'ghp_x' } }, ['repo.token'], false],
    ['another runtime', { runtime: 'python' }, ['runtime'], true],
    ['the same runtime', { runtime: 'node' }, [], false],
  ];
  for (const [what, body, changed, redeploy] of cases) {
    it(`${what}: changed ${JSON.stringify(changed)}, ${redeploy ? 'redeploy' : 'just saved'}`, () => {
      const result = plan(body);
      expect(result.changed).to.deep.equal(changed);
      expect(result.redeploy).to.equal(redeploy);
    });
  }

  const neverRan: AppDocument = { ...doc, status: 'failed', release: undefined };
  const firstDeployCases: [string, AppDocument, unknown, boolean][] = [
    [
      'a token for an app that never ran deploys it (its first clone most likely needed one)',
      neverRan,
      { token: 'ghp_x' },
      true,
    ],
    [
      'a token removed from an app that never ran deploys it too',
      { ...neverRan, repo: { ...neverRan.repo, sealedCredentials: 'sealed' } },
      { token: null },
      true,
    ],
    ['no token to remove: nothing changed, nothing deployed', neverRan, { token: null }, false],
    ['a token for a running app: just saved', doc, { token: 'ghp_x' }, false],
    [
      'a token for a crashed app: just saved (it ran; its next clone uses it)',
      { ...doc, status: 'crashed' },
      { token: 'x' },
      false,
    ],
  ];
  for (const [what, base, repo, redeploy] of firstDeployCases) {
    it(`repo.token: ${what}`, () => {
      const result = planPatch(base, patchAppRequest().parse({ repo }), seal, defaultResourcePolicy);
      expect(result.redeploy).to.equal(redeploy);
    });
  }

  const defaultBuild = { ...doc, build: undefined };
  const noBuild = { ...doc, build: [] };
  const buildCases: [string, AppDocument, unknown, string[], string[] | undefined][] = [
    ['no build ([]) when the app used the default build', defaultBuild, [], ['build'], []],
    ['the default build (null) when the app used the default build', defaultBuild, null, [], undefined],
    ['the default build (null) when the app had no build ([])', noBuild, null, ['build'], undefined],
    ['no build ([]) again', noBuild, [], [], []],
  ];
  for (const [what, base, build, changed, saved] of buildCases) {
    it(`build: ${what}: changed ${JSON.stringify(changed)}, saved ${JSON.stringify(saved)}`, () => {
      const result = planPatch(base, patchAppRequest().parse({ build }), seal, defaultResourcePolicy);
      expect(result.changed).to.deep.equal(changed);
      expect(result.next.build).to.deep.equal(saved);
    });
  }

  it('merges env: seals new values, keeps the others, drops nulls', () => {
    expect(plan({ env: { A: null, C: 'x' } }).next.sealedEnv).to.deep.equal({ B: 'sealed-b', C: 'sealed(x)' });
  });

  it('merges processes with what the app had; web in processes is instances too', () => {
    const scaled = planPatch(
      { ...doc, processes: { worker: 1, clock: 1 } },
      patchAppRequest().parse({ processes: { clock: 0, web: 3 } }),
      seal,
      defaultResourcePolicy,
    );
    expect(scaled.next.processes).to.deep.equal({ worker: 1, clock: 0, web: 3 });
    expect(scaled.next.instanceCount).to.equal(3);
    const instances = planPatch(
      { ...doc, processes: { web: 2 } },
      patchAppRequest().parse({ instances: 4 }),
      seal,
      defaultResourcePolicy,
    );
    expect(instances.next.processes).to.deep.equal({ web: 4 });
  });

  it('merges resources with what the app had', () => {
    const withCpu = { ...doc, resources: { cpu: 0.5 } };
    const result = planPatch(
      withCpu,
      patchAppRequest().parse({ resources: { memory: 256 } }),
      seal,
      defaultResourcePolicy,
    );
    expect(result.next.resources).to.deep.equal({ cpu: 0.5, memory: 256 });
  });

  describe('repo', () => {
    const withToken: AppDocument = {
      ...doc,
      repo: { url: 'https://example.com/blog.git', branch: 'main', path: 'web', sealedCredentials: 'sealed-token' },
    };
    const planRepo = (body: unknown) =>
      planPatch(withToken, patchAppRequest().parse(body), seal, defaultResourcePolicy);
    const table: [string, unknown, AppDocument['repo'], string[]][] = [
      [
        'another repository on the same server keeps the token',
        { repo: { url: 'https://example.com/blog-v2.git' } },
        { url: 'https://example.com/blog-v2.git', branch: 'main', path: 'web', sealedCredentials: 'sealed-token' },
        ['repo.url'],
      ],
      [
        'a repository on another server drops the token (it is never sent there)',
        { repo: { url: 'https://git.other.example/blog.git' } },
        { url: 'https://git.other.example/blog.git', branch: 'main', path: 'web' },
        ['repo.url', 'repo.token'],
      ],
      [
        'another server with a new token keeps the new one',
        { repo: { url: 'https://git.other.example/blog.git', token: 't2' } },
        {
          url: 'https://git.other.example/blog.git',
          branch: 'main',
          path: 'web',
          sealedCredentials: seal(JSON.stringify({ username: 'x-access-token', token: 't2' })),
        },
        ['repo.url', 'repo.token'],
      ],
      [
        "the repository's default branch and the root folder (null)",
        { repo: { branch: null, path: null } },
        { url: 'https://example.com/blog.git', sealedCredentials: 'sealed-token' },
        ['repo.branch', 'repo.path'],
      ],
      [
        'the token removed',
        { repo: { token: null } },
        { url: 'https://example.com/blog.git', branch: 'main', path: 'web' },
        ['repo.token'],
      ],
    ];
    for (const [what, body, repo, changed] of table) {
      it(what, () => {
        const result = planRepo(body);
        expect(result.next.repo).to.deep.equal(repo);
        expect(result.changed).to.deep.equal(changed);
      });
    }

    const bad: [string, unknown, string][] = [
      ['nothing in repo', { repo: {} }, 'nothing to change'],
      ['a user name without a token', { repo: { username: 'alice' } }, 'goes with repo.token'],
      ['a transport that runs commands', { repo: { url: 'ext::sh -c id' } }, 'url'],
      ['a branch git refuses', { repo: { branch: 'a..b' } }, 'branch'],
      ['a folder outside the repository', { repo: { path: '../x' } }, 'path'],
      ['a runtime Gasper has no image for', { runtime: 'cobol' }, 'unknown runtime; one of: '],
    ];
    for (const [what, body, said] of bad) {
      it(`refuses ${what}`, () => {
        const parsed = patchAppRequest().safeParse(body);
        expect(parsed.success).to.equal(false);
        expect(JSON.stringify(parsed.error!.issues)).to.include(said);
      });
    }
  });

  it('does not touch the input document', () => {
    plan({ env: { A: null }, instances: 4 });
    expect(doc.sealedEnv).to.deep.equal({ A: 'sealed-a', B: 'sealed-b' });
    expect(doc.instanceCount).to.equal(undefined);
  });
});
