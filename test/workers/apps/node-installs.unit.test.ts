import { expect } from 'chai';
import { ConventionError } from '../../../src/workers/apps/conventions.ts';
import { declaredManager, type NodePackageJson, nodeInstall } from '../../../src/workers/apps/node-installs.ts';

const deps = { dependencies: { 'is-number': '7.0.0' } };
const npmCi = 'npm ci --no-audit --no-fund';

/** files at the repository root, package.json → install command (undefined: none), reason. */
const cases: [string, string[], NodePackageJson, string | undefined, string][] = [
  ['package-lock.json', ['package-lock.json'], deps, npmCi, 'package-lock.json'],
  ['npm-shrinkwrap.json', ['npm-shrinkwrap.json'], deps, npmCi, 'npm-shrinkwrap.json'],
  ['yarn.lock', ['yarn.lock'], deps, 'yarn install --frozen-lockfile', 'yarn.lock: Yarn 1'],
  [
    'pnpm-lock.yaml',
    ['pnpm-lock.yaml'],
    deps,
    'corepack pnpm install --frozen-lockfile',
    'pnpm-lock.yaml: pnpm through corepack',
  ],
  [
    'no lockfile, dependencies',
    [],
    deps,
    'npm install --no-audit --no-fund',
    'package.json has dependencies, no lock file',
  ],
  ['no lockfile, no dependencies', [], {}, undefined, 'no dependencies'],
  [
    'a lockfile with no dependencies still installs',
    ['yarn.lock'],
    {},
    'yarn install --frozen-lockfile',
    'yarn.lock: Yarn 1',
  ],
  [
    'two lockfiles: npm first, the other named',
    ['package-lock.json', 'yarn.lock'],
    deps,
    npmCi,
    'package-lock.json; yarn.lock ignored: remove it',
  ],
  [
    'three lockfiles',
    ['yarn.lock', 'pnpm-lock.yaml', 'package-lock.json'],
    deps,
    npmCi,
    'package-lock.json; yarn.lock and pnpm-lock.yaml ignored: remove them',
  ],
  [
    'packageManager wins over another lockfile',
    ['package-lock.json', 'pnpm-lock.yaml'],
    { ...deps, packageManager: 'pnpm@9.12.0' },
    'corepack pnpm install --frozen-lockfile',
    'packageManager "pnpm@9.12.0" in package.json: pnpm through corepack; package-lock.json ignored: remove it',
  ],
  [
    'packageManager pnpm with a hash, no lockfile',
    [],
    { ...deps, packageManager: 'pnpm@10.34.9+sha512.abc' },
    'corepack pnpm install',
    'packageManager "pnpm@10.34.9+sha512.abc" in package.json: pnpm through corepack',
  ],
  [
    'packageManager yarn@1: the image Yarn 1',
    ['yarn.lock'],
    { ...deps, packageManager: 'yarn@1.22.19' },
    'yarn install --frozen-lockfile',
    'packageManager "yarn@1.22.19" in package.json: Yarn 1',
  ],
  [
    'packageManager npm',
    ['package-lock.json'],
    { ...deps, packageManager: 'npm@10.9.0' },
    npmCi,
    'packageManager "npm@10.9.0" in package.json',
  ],
  [
    'a packageManager that is not one of the three is left to the lockfile',
    ['yarn.lock'],
    { ...deps, packageManager: 'bun@1.1.0' },
    'yarn install --frozen-lockfile',
    'yarn.lock: Yarn 1',
  ],
];

describe('nodeInstall: the package manager of a node app', () => {
  for (const [what, files, pkg, install, reason] of cases) {
    it(`${what} → ${install ?? 'no install'}`, () => {
      const plan = nodeInstall((f) => files.includes(f), pkg);
      expect(plan).to.deep.equal(install ? { install, reason } : { reason });
    });
  }

  for (const [what, files, pkg] of [
    ['packageManager yarn@4', ['yarn.lock'], { ...deps, packageManager: 'yarn@4.5.0' }],
    ['a .yarnrc.yml beside yarn.lock', ['yarn.lock', '.yarnrc.yml'], deps],
  ] as [string, string[], NodePackageJson][]) {
    it(`${what}: Yarn 2+ is refused, saying what to do instead`, () => {
      expect(() => nodeInstall((f) => files.includes(f), pkg))
        .to.throw(ConventionError)
        .with.property('message')
        .that.matches(/asks for Yarn 2 or later.*add a Dockerfile, or give the app its build and run commands/);
    });
  }

  it('a .yarnrc.yml does not matter to an npm app', () => {
    expect(nodeInstall((f) => ['package-lock.json', '.yarnrc.yml'].includes(f), deps).install).to.equal(npmCi);
  });

  it('declaredManager reads name@x.y.z and its major, and nothing else', () => {
    expect(declaredManager('yarn@4.5.0+sha512.0a1b')).to.deep.equal({
      manager: 'yarn',
      major: 4,
      text: 'yarn@4.5.0+sha512.0a1b',
    });
    for (const field of [undefined, 3, 'pnpm', 'pnpm@latest', 'pnpm@9', 'bun@1.1.0', ' '])
      expect(declaredManager(field), String(field)).to.equal(undefined);
  });
});
