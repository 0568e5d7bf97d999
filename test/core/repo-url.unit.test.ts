import { expect } from 'chai';
import { branchProblem, repoUrlProblem } from '../../src/core/repo-url.ts';

describe('repo-url', () => {
  describe('repoUrlProblem', () => {
    const accepted = [
      'https://github.com/owner/repo.git',
      'http://git.internal:8080/repo',
      'ssh://git@github.com/owner/repo.git',
      'git://example.org/repo.git',
      'git@github.com:owner/repo.git',
      'deploy@git.example.com:team/app',
    ];
    for (const url of accepted) {
      it(`accepts ${url}`, () => {
        expect(repoUrlProblem(url, { allowLocal: false })).to.equal(undefined);
      });
    }

    const rejected: [string, string, RegExp][] = [
      ['empty', '', /1 to 2048/],
      ['too long', `https://example.com/${'a'.repeat(2048)}`, /1 to 2048/],
      ['ext:: transport', 'ext::sh%20-c%20touch%20pwned', /remote helper/],
      ['fd:: transport', 'fd::17', /remote helper/],
      ['an option as URL (-u)', '-uhelp', /start with "-"/],
      ['--upload-pack', '--upload-pack=touch /tmp/x', /spaces|start with "-"/],
      ['--upload-pack without spaces', '--upload-pack=x', /start with "-"/],
      ['a space', 'https://example.com/my repo', /spaces or control/],
      ['a newline', 'https://example.com/repo\n', /spaces or control/],
      ['a NUL', 'https://example.com/\0repo', /spaces or control/],
      ['DEL', 'https://example.com/\x7frepo', /spaces or control/],
      ['ftp', 'ftp://example.com/repo.git', /scheme "ftp" is not allowed/],
      ['no host', 'ssh:///srv/repo.git', /must name a host/],
      ['an option as ssh host', 'ssh://-oProxyCommand=x/repo', /must not start with "-"/],
      ['a scheme and nothing else', 'https://', /must be a URL/],
      ['a local path', '/srv/git/repo.git', /must be a URL/],
      ['a relative path', '../repo', /must be a URL/],
    ];
    for (const [why, url, message] of rejected) {
      it(`rejects ${why}`, () => {
        expect(repoUrlProblem(url, { allowLocal: true })).to.match(message);
      });
    }

    it('accepts file:// only when local repositories are allowed', () => {
      expect(repoUrlProblem('file:///srv/git/repo', { allowLocal: true })).to.equal(undefined);
      expect(repoUrlProblem('file:///srv/git/repo', { allowLocal: false })).to.match(/GASPER_ALLOW_LOCAL_REPOS/);
    });
  });

  describe('branchProblem', () => {
    for (const branch of ['main', 'feature/x', 'v1.2', 'release-2024.01', 'a@b', 'fix/issue_12']) {
      it(`accepts "${branch}"`, () => {
        expect(branchProblem(branch)).to.equal(undefined);
      });
    }

    const invalid = [
      '', 'x'.repeat(256), '-x', 'a..b', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[', 'a\\b', '@', 'a@{b', 'a//b', '/a',
      'a/', 'a.', '.a', 'a/.b', 'a.lock', 'a.lock/b', 'a\tb', 'a\nb', 'a\0b', 'a\x7fb',
    ];
    for (const branch of invalid) {
      it(`rejects ${JSON.stringify(branch.length > 20 ? `${branch.slice(0, 8)}… (${branch.length})` : branch)}`, () => {
        expect(branchProblem(branch)).to.be.a('string');
      });
    }
  });
});
