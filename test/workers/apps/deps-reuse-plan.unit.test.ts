import { expect } from 'chai';
import {
  installOf,
  isInstallCommand,
  planDepsReuse,
  type ReuseCandidate,
} from '../../../src/workers/apps/deps-reuse-plan.ts';

describe("deps-reuse-plan: when a release reuses an earlier one's installed dependencies (pure)", () => {
  const cases: [string, boolean][] = [
    ['npm ci --no-audit --no-fund', true],
    ['npm install --no-audit --no-fund', true],
    ['npm ci', true],
    ['npm i --omit=dev', true],
    ['yarn install --frozen-lockfile', true],
    ['yarn', true],
    ['pnpm install --frozen-lockfile', true],
    ['corepack pnpm install --frozen-lockfile', true],
    ['corepack yarn install --immutable', false],
    ['corepack pnpm add express', false],
    ['npm install express', false],
    ['npm ci && npm run build', false],
    ['npm run build', false],
    ['pip install --user --no-cache-dir --no-warn-script-location -r requirements.txt', true],
    ['pip install -r requirements/prod.txt', true],
    ['pip install flask', false],
    ['pip install -r requirements.txt flask', false],
    ['pip install --user .', false],
    ['bundle install --jobs 4', true],
    ['bundle install', true],
    ['bundle install && rake assets', false],
    ['composer install --no-dev --no-interaction --no-progress --prefer-dist --optimize-autoloader', true],
    ['composer require monolog/monolog', false],
    ['go build -o bin/app .', false],
    ['npm ci; curl evil', false],
  ];
  for (const [command, expected] of cases) {
    it(`${JSON.stringify(command)} is ${expected ? '' : 'not '}a plain install`, () => {
      expect(isInstallCommand(command)).to.equal(expected);
    });
  }

  const key = 'a'.repeat(64);
  const other = 'b'.repeat(64);
  const base = {
    release: 'r000005',
    commands: ['npm ci --no-audit --no-fund', 'npm run build'],
    lockfile: 'package-lock.json',
    key,
    cache: true,
  };
  const table: {
    name: string;
    candidates: ReuseCandidate[];
    over?: Partial<typeof base>;
    from?: string;
    line?: RegExp;
  }[] = [
    {
      name: 'the newest kept release with the same key is the source',
      candidates: [
        { release: 'r000002', key },
        { release: 'r000004', key },
        { release: 'r000003', key: other },
      ],
      from: 'r000004',
      line: /unchanged package-lock.json \(sha256 aaaaaaaaaaaa…\), reused node_modules from r000004: npm ci --no-audit --no-fund skipped/,
    },
    {
      name: 'pip: the requirements file is the key, and the user site (.local) what is reused',
      candidates: [{ release: 'r000004', key }],
      over: { commands: ['pip install --user -r requirements.txt'], lockfile: 'requirements.txt' },
      from: 'r000004',
      line: /unchanged requirements.txt \(sha256 aaaaaaaaaaaa…\), reused .local from r000004: pip install --user -r requirements.txt skipped/,
    },
    {
      name: 'bundler reuses vendor/bundle',
      candidates: [{ release: 'r000004', key }],
      over: { commands: ['bundle install --jobs 4'], lockfile: 'Gemfile.lock' },
      from: 'r000004',
      line: /reused vendor\/bundle from r000004: bundle install --jobs 4 skipped/,
    },
    {
      name: 'a changed lockfile installs',
      candidates: [{ release: 'r000004', key: other }],
      line: /matches no kept release: installing/,
    },
    {
      name: 'a release without a marker (failed build, older Gasper) is never a source',
      candidates: [{ release: 'r000004', key: undefined }],
      line: /matches no kept release/,
    },
    {
      name: 'the release itself (a retry) is not its own source',
      candidates: [{ release: 'r000005', key }],
      line: /matches no kept release/,
    },
    {
      name: 'cache: false installs from nothing',
      candidates: [{ release: 'r000004', key }],
      over: { cache: false },
      line: /cache: false: installing from nothing/,
    },
    {
      name: 'no lockfile: nothing to key on, nothing said',
      candidates: [{ release: 'r000004', key }],
      over: { lockfile: undefined, key: undefined },
    },
    {
      name: 'no install command (the app gave its own build): nothing said',
      candidates: [{ release: 'r000004', key }],
      over: { commands: ['make'] },
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const plan = planDepsReuse({ ...base, ...row.over, candidates: row.candidates });
      expect(plan.reuse).to.equal(row.from !== undefined);
      if (plan.reuse) {
        expect(plan.from).to.equal(row.from);
        expect(plan.skip).to.equal(0);
      }
      if (row.line) expect(plan.line).to.match(row.line);
      else expect(plan.line).to.equal(undefined);
    });
  }
});

describe('deps-reuse-plan: the lockfile an install follows', () => {
  type Install = { index: number; lockfiles: string[]; directory: string; keyedWith?: string[] };
  const rows: [string[], Install | undefined][] = [
    [
      ['npm ci --no-audit --no-fund'],
      { index: 0, lockfiles: ['npm-shrinkwrap.json', 'package-lock.json'], directory: 'node_modules' },
    ],
    [['echo hi', 'yarn install'], { index: 1, lockfiles: ['yarn.lock'], directory: 'node_modules' }],
    [['pnpm i'], { index: 0, lockfiles: ['pnpm-lock.yaml'], directory: 'node_modules' }],
    [
      ['pip install --user -r requirements/base.txt'],
      { index: 0, lockfiles: ['requirements/base.txt'], directory: '.local' },
    ],
    [['bundle install --jobs 4'], { index: 0, lockfiles: ['Gemfile.lock'], directory: 'vendor/bundle' }],
    [
      ['composer install --no-dev'],
      { index: 0, lockfiles: ['composer.lock'], directory: 'vendor', keyedWith: ['composer.json'] },
    ],
    [['npm run build'], undefined],
  ];
  for (const [commands, expected] of rows) {
    it(commands.join(' && '), () => expect(installOf(commands)).to.deep.equal(expected));
  }
});
