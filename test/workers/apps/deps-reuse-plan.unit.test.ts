import { expect } from 'chai';
import {
  installOf,
  isInstallCommand,
  planDepsReuse,
  type ReuseCandidate,
} from '../../../src/workers/apps/deps-reuse-plan.ts';

describe("deps-reuse-plan: when a release reuses an earlier one's node_modules (pure)", () => {
  const cases: [string, boolean][] = [
    ['npm ci --no-audit --no-fund', true],
    ['npm install --no-audit --no-fund', true],
    ['npm ci', true],
    ['npm i --omit=dev', true],
    ['yarn install --frozen-lockfile', true],
    ['yarn', true],
    ['pnpm install --frozen-lockfile', true],
    ['npm install express', false],
    ['npm ci && npm run build', false],
    ['npm run build', false],
    ['pip install -r requirements.txt', false],
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
  const rows: [string[], { index: number; lockfiles: string[] } | undefined][] = [
    [['npm ci --no-audit --no-fund'], { index: 0, lockfiles: ['npm-shrinkwrap.json', 'package-lock.json'] }],
    [['echo hi', 'yarn install'], { index: 1, lockfiles: ['yarn.lock'] }],
    [['pnpm i'], { index: 0, lockfiles: ['pnpm-lock.yaml'] }],
    [['npm run build'], undefined],
  ];
  for (const [commands, expected] of rows) {
    it(commands.join(' && '), () => expect(installOf(commands)).to.deep.equal(expected));
  }
});
