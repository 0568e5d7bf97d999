import { expect } from 'chai';
import { decidePostdeploy, type PostdeployDecision } from '../../../src/workers/apps/postdeploy.ts';

describe('app.json postdeploy: whether a deploy runs it', () => {
  const claim = { release: 'r1', job: 'deploy-a-1', startedAt: '2026-01-01T00:00:00.000Z' };
  const cases: { name: string; input: Parameters<typeof decidePostdeploy>[0]; want: PostdeployDecision }[] = [
    {
      name: 'no postdeploy: nothing, nothing said',
      input: { command: undefined, firstDeploy: true, claim: undefined },
      want: { run: false },
    },
    {
      name: 'the first deploy, never claimed: runs',
      input: { command: 'node seed.js', firstDeploy: true, claim: undefined },
      want: { run: true },
    },
    {
      name: 'a later deploy of an app that never ran it (app.json gained it): not run, said why',
      input: { command: 'node seed.js', firstDeploy: false, claim: undefined },
      want: {
        run: false,
        line: 'app.json: scripts.postdeploy not run: it runs only after the first successful deploy of the app',
      },
    },
    {
      name: 'claimed and finished: not run again, with its exit code',
      input: { command: 'node seed.js', firstDeploy: true, claim: { ...claim, finishedAt: 'x', exitCode: 0 } },
      want: {
        run: false,
        line: 'app.json: scripts.postdeploy not run: it ran once already (release r1, 2026-01-01T00:00:00.000Z, exit code 0)',
      },
    },
    {
      name: 'claimed and never finished (a worker died mid-run, the job retried): not run again',
      input: { command: 'node seed.js', firstDeploy: true, claim },
      want: {
        run: false,
        line: 'app.json: scripts.postdeploy not run: it ran once already (release r1, 2026-01-01T00:00:00.000Z, never finished)',
      },
    },
    {
      name: 'claimed, could not start (no exit code, finished): not run again',
      input: { command: 'x', firstDeploy: false, claim: { ...claim, finishedAt: 'y', error: 'e' } },
      want: {
        run: false,
        line: 'app.json: scripts.postdeploy not run: it ran once already (release r1, 2026-01-01T00:00:00.000Z)',
      },
    },
  ];
  for (const c of cases) it(c.name, () => expect(decidePostdeploy(c.input)).to.deep.equal(c.want));
});
