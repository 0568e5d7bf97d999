import { expect } from 'chai';
import { planReleaseCommand, releaseFailureMessage } from '../../../src/workers/apps/release-phase.ts';
import { commandLine } from '../../../src/client/run-command.ts';

describe('planReleaseCommand', () => {
  const cases: [string, { procfile?: string; appJson?: string }, ReturnType<typeof planReleaseCommand>][] = [
    ['none without Procfile or app.json', {}, undefined],
    ['none for a Procfile without release', { procfile: 'web: node server.js\n' }, undefined],
    [
      "the Procfile's release process",
      { procfile: 'web: node server.js\nrelease: npm run migrate\n' },
      { command: 'npm run migrate', source: 'Procfile release process' },
    ],
    [
      "the Procfile's before app.json's",
      { procfile: 'release: ./migrate', appJson: '{"scripts":{"predeploy":"other"}}' },
      { command: './migrate', source: 'Procfile release process' },
    ],
    [
      "app.json's scripts.predeploy",
      { appJson: '{"scripts":{"predeploy":"  rake db:migrate "}}' },
      { command: 'rake db:migrate', source: 'app.json scripts.predeploy' },
    ],
    ['none for a malformed app.json', { appJson: '{' }, undefined],
    ['none for a predeploy that is not a string', { appJson: '{"scripts":{"predeploy":["x"]}}' }, undefined],
  ];
  for (const [what, files, expected] of cases) {
    it(what, () => expect(planReleaseCommand(files)).to.deep.equal(expected));
  }

  it('words a failure with its exit code, a kill or the time limit', () => {
    const r = { exitCode: 4, timedOut: false, oomKilled: false };
    expect(releaseFailureMessage('m', r, 1000)).to.equal('release phase (m) exited with code 4');
    expect(releaseFailureMessage('m', { ...r, exitCode: 137, timedOut: true }, 3000)).to.equal(
      'release phase (m) was killed after 3 s (GASPER_RUN_TIMEOUT_S)',
    );
    expect(releaseFailureMessage('m', { ...r, exitCode: 137, oomKilled: true }, 1000)).to.match(/out of memory/);
  });
});

describe('gasper run command line', () => {
  const cases: [string[], string][] = [
    [['echo $HOME'], 'echo $HOME'],
    [['sh', '-c', 'echo hi; exit 3'], "sh -c 'echo hi; exit 3'"],
    [['echo', "it's"], "echo 'it'\\''s'"],
    [['rake', 'db:migrate', 'VERSION=3'], 'rake db:migrate VERSION=3'],
  ];
  for (const [words, line] of cases)
    it(`${JSON.stringify(words)} → ${line}`, () => expect(commandLine(words)).to.equal(line));
});
