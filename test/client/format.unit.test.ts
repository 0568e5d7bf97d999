import { expect } from 'chai';
import {
  cloneFailureHint,
  fieldLines,
  jobStateWords,
  parseEnvPairs,
  progressBar,
  shortCommit,
  table,
} from '../../src/client/format.ts';
import { causeWords, releaseRows, rollbackEnvNote } from '../../src/client/release-commands.ts';
import { cloneFailures } from '../support/clone-failures.ts';

describe('client output', () => {
  it('aligns table columns and trims trailing space', () => {
    expect(
      table(
        ['NAME', 'STATUS'],
        [
          ['web', 'running'],
          ['a-longer-name', 'failed'],
        ],
      ),
    ).to.equal(['NAME           STATUS', 'web            running', 'a-longer-name  failed'].join('\n'));
  });

  const bars: [number, string][] = [
    [0, '[------------------------]   0%  queued'],
    [50, '[############------------]  50%  queued'],
    [100, '[########################] 100%  queued'],
    [140, '[########################] 100%  queued'],
    [-5, '[------------------------]   0%  queued'],
  ];
  for (const [percent, expected] of bars) {
    it(`draws a progress bar at ${percent}%`, () => expect(progressBar(percent, 'queued')).to.equal(expected));
  }

  const states: [string, string][] = [
    ['waiting', 'queued: waiting for the node to take it'],
    ['delayed', 'waiting to be tried again'],
    ['active', 'started'],
    ['completed', 'completed'],
  ];
  for (const [state, words] of states) {
    it(`says a job ${state} before its first step as "${words}"`, () => expect(jobStateWords(state)).to.equal(words));
  }

  const hints: [string, string, string | undefined][] = [
    [
      'a branch that is not there',
      cloneFailures.branch,
      'gasper apps repo web --branch <branch> (or --default-branch) deploys another branch',
    ],
    [
      'a repository that is not there',
      cloneFailures.repository,
      'gasper apps repo web --url <url> deploys another repository; a private one needs --token-stdin',
    ],
    [
      'a private repository',
      cloneFailures.privateRepository,
      'gasper apps repo web --token-stdin < token.txt gives the clone an access token',
    ],
    [
      'a refused token',
      cloneFailures.refusedToken,
      'gasper apps repo web --token-stdin < token.txt gives the clone an access token',
    ],
    [
      'an ssh:// repository that refused the key',
      cloneFailures.refusedSshKey,
      'gasper apps repo web --url <https URL> --token-stdin < token.txt clones over https with a token',
    ],
    ['a server that does not answer', cloneFailures.unreachable, undefined],
    ['a build that failed', cloneFailures.build, undefined],
  ];
  for (const [what, error, hint] of hints) {
    it(`after a failed deploy, ${what}: ${hint ? 'says what to run' : 'no hint'}`, () =>
      expect(cloneFailureHint('web', error)).to.equal(hint));
  }

  it('lists each bad field of a validation error', () => {
    expect(fieldLines({ 'repo.url': 'bad scheme', runtime: 'unknown' })).to.deep.equal([
      '  repo.url: bad scheme',
      '  runtime: unknown',
    ]);
    expect(fieldLines(undefined)).to.deep.equal([]);
  });

  it('parses KEY=VALUE pairs, keeping = inside values', () => {
    expect(parseEnvPairs(['A=1', 'URL=postgres://x?a=b'])).to.deep.equal({ A: '1', URL: 'postgres://x?a=b' });
    expect(() => parseEnvPairs(['NOVALUE'])).to.throw(/KEY=VALUE/);
    expect(() => parseEnvPairs(['=x'])).to.throw(/KEY=VALUE/);
  });

  it('shortens commits', () => {
    expect(shortCommit('5460e11a4793a22fc8e31dc0015cf1b92fa39a13')).to.equal('5460e11a4793');
    expect(shortCommit(null)).to.equal('-');
  });

  const rollbackNotes: [string, string[], string[], string][] = [
    ['the same names', ['A', 'B'], ['B', 'A'], ' (its code and env as they were then)'],
    ['one gone', ['A', 'GREETING'], ['A'], ' (its code and env as they were then: GREETING no longer set)'],
    [
      'one gone, two back',
      ['A', 'NEW'],
      ['A', 'OLD', 'X'],
      ' (its code and env as they were then: NEW no longer set; OLD, X set again)',
    ],
  ];
  for (const [what, before, after, note] of rollbackNotes) {
    it(`after a rollback, says what the env became: ${what}`, () =>
      expect(rollbackEnvNote(before, after)).to.equal(note));
  }

  const causeCases: [string, Record<string, string>[] | undefined, { by: string; why: string }][] = [
    ['a release from before causes were kept', undefined, { by: '-', why: '' }],
    ['a first deploy', [{ by: 'alice', reason: 'first deploy' }], { by: 'alice', why: 'first deploy' }],
    [
      'a change coalesced into it, then a rollback to it',
      [
        { by: 'alice', reason: 'set GREETING' },
        { by: 'bob', reason: 'changed run' },
        { by: 'carol', reason: 'rollback from r000004' },
      ],
      { by: 'alice', why: 'set GREETING; changed run (bob); rollback from r000004 (carol)' },
    ],
  ];
  for (const [what, causes, words] of causeCases)
    it(`a release's causes in words: ${what}`, () => expect(causeWords(causes)).to.deep.equal(words));

  it('lists releases with who asked for each and why', () => {
    const rows = releaseRows([
      {
        id: 'r000002',
        current: true,
        status: 'active',
        commit: '6d7c88a1aaec0000',
        onDisk: true,
        timings: { createdAt: '2026-12-03T21:36:00Z' },
        causes: [{ by: 'github', reason: 'push of 6d7c88a1aaec to main' }],
      },
    ]).split('\n');
    expect(rows[0]).to.match(/^ +RELEASE +STATUS +COMMIT +CREATED +BY +WHY +ON DISK +ERROR$/);
    expect(rows[1]).to.equal(
      '*  r000002  active  6d7c88a1aaec  2026-12-03 21:36 UTC  github  push of 6d7c88a1aaec to main  yes',
    );
  });
});
