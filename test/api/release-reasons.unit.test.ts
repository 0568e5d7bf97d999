import { expect } from 'chai';
import type { PatchAppRequest } from '../../src/api/app-patch-request.ts';
import { patchReason, pushReason } from '../../src/api/release-reasons.ts';

describe("a release's reason in words", function () {
  const cases: [string, PatchAppRequest, string[], string][] = [
    ['variables set, by name only', { env: { A: 'secret', B: 'x' } }, ['env'], 'set A, B'],
    ['variables set and unset', { env: { A: 'secret', OLD: null } }, ['env'], 'set A; unset OLD'],
    ['counts', { processes: { web: 2, worker: 0 } }, ['processes'], 'scaled web=2 worker=0'],
    ['the older instances field', { instances: 3 }, ['instances'], 'scaled web=3'],
    [
      'other fields after variables and counts',
      { env: { A: '1' }, run: 'node x.js', repo: { branch: 'dev' } },
      ['env', 'run', 'repo.branch'],
      'set A; changed run, repo.branch',
    ],
    ['asked but nothing changed', { run: 'same' }, [], 'redeploy'],
  ];
  for (const [what, patch, changed, reason] of cases)
    it(`${what}: ${reason}`, function () {
      expect(patchReason(patch, changed)).to.equal(reason);
    });

  it("a push: the commit's first 12 characters and the branch", function () {
    expect(pushReason('3f9c1a2b7e104d5e6f708192a3b4c5d6e7f80912', 'main')).to.equal('push of 3f9c1a2b7e10 to main');
  });
});
