import { expect } from 'chai';
import { repoChange } from '../../src/client/repo-command.ts';

describe('gasper apps repo: the change the options ask for', () => {
  const cases: [string, Record<string, unknown>, Record<string, string> | undefined, unknown][] = [
    ['no option: show, change nothing', {}, undefined, undefined],
    ['a branch', { branch: 'release' }, undefined, { branch: 'release' }],
    ["the repository's default branch", { defaultBranch: true }, undefined, { branch: null }],
    ['a folder', { path: 'web' }, undefined, { path: 'web' }],
    ['the whole repository', { root: true }, undefined, { path: null }],
    ['another URL', { url: 'https://git.example/x.git' }, undefined, { url: 'https://git.example/x.git' }],
    ['a token read from stdin', { tokenStdin: true }, { token: 't' }, { token: 't' }],
    [
      'a token with its user name (Bitbucket)',
      { tokenStdin: true, username: 'alice' },
      { token: 't', username: 'alice' },
      { token: 't', username: 'alice' },
    ],
    ['the token removed', { removeToken: true }, undefined, { token: null }],
  ];
  for (const [what, options, credentials, change] of cases) {
    it(what, () => expect(repoChange(options, credentials)).to.deep.equal(change));
  }

  const refused: [string, Record<string, unknown>, string][] = [
    [
      'a branch and the default one',
      { branch: 'a', defaultBranch: true },
      'give --branch or --default-branch, not both',
    ],
    ['a folder and the root', { path: 'a', root: true }, 'give --path or --root, not both'],
    [
      'a token and its removal',
      { tokenStdin: true, removeToken: true },
      'give --token-stdin or --remove-token, not both',
    ],
  ];
  for (const [what, options, message] of refused) {
    it(`refuses ${what}`, () => expect(() => repoChange(options, { token: 't' })).to.throw(message));
  }
});
