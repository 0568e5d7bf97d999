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
  ];
  for (const [what, body, changed, redeploy] of cases) {
    it(`${what}: changed ${JSON.stringify(changed)}, ${redeploy ? 'redeploy' : 'just saved'}`, () => {
      const result = plan(body);
      expect(result.changed).to.deep.equal(changed);
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

  it('does not touch the input document', () => {
    plan({ env: { A: null }, instances: 4 });
    expect(doc.sealedEnv).to.deep.equal({ A: 'sealed-a', B: 'sealed-b' });
    expect(doc.instanceCount).to.equal(undefined);
  });
});
