import { expect } from 'chai';
import { normalRepoPath, repoPathProblem } from '../../src/core/repo-path.ts';

describe('repo.path: one folder of the repository (monorepos)', () => {
  const rows: [path: string, problem: RegExp | undefined, stored: string | undefined][] = [
    ['services/web', undefined, 'services/web'],
    ['./services//web/', undefined, 'services/web'],
    ['dist', undefined, 'dist'],
    ['.', undefined, undefined],
    ['a..b', undefined, 'a..b'],
    ['/services/web', /relative/, undefined],
    ['../other', /inside/, undefined],
    ['a/../../b', /inside/, undefined],
    ['a/..', /inside/, undefined],
    ['a\\b', /"\/"/, undefined],
    ['.git/hooks', /\.git/, undefined],
    ['', /1 to 1024/, undefined],
    ['a\nb', /control/, undefined],
  ];
  for (const [path, problem, stored] of rows) {
    it(`${JSON.stringify(path)}: ${problem ? `refused (${problem.source})` : `stored as ${stored ?? 'the root'}`}`, () => {
      const found = repoPathProblem(path);
      if (problem) expect(found).to.match(problem);
      else {
        expect(found).to.equal(undefined);
        expect(normalRepoPath(path)).to.equal(stored);
      }
    });
  }
});
