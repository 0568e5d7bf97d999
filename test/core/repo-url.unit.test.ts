import { expect } from 'chai';
import {
  branchProblem,
  repoHost,
  repoUrlProblem,
  sameRepoOrigin,
  splitRepoCredentials,
} from '../../src/core/repo-url.ts';

describe('repo-url', () => {
  describe('repoUrlProblem', () => {
    const accepted = [
      'https://github.com/owner/repo.git',
      'http://git.internal:8080/repo',
      'ssh://git@github.com/owner/repo.git',
      'git://example.org/repo.git',
      'git@github.com:owner/repo.git',
      'deploy@git.example.com:team/app',
      'https://user:token@github.com/owner/repo.git',
      'ssh://git@[2001:db8::1]:2222/repo.git',
      'git@github.com:owner/-repo.git',
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
      // Node reads "\\" as "/" (host example.com); curl keeps it in the user name (host 127.0.0.1).
      ['a backslash before "@"', 'http://example.com\\@127.0.0.1:9/x', /must not contain "\\"/],
      ['two "@" in the authority', 'https://a@github.com@127.0.0.1/x', /more than one "@"/],
      ['a local path', '/srv/git/repo.git', /must be a URL/],
      ['a relative path', '../repo', /must be a URL/],
      // The option-injection forms that only git's own checks stopped (#11 item 7).
      ['a %-encoded option as ssh host', 'ssh://%2DoProxyCommand=touch%20x/repo', /must not start with "-"/],
      ['a lowercase %-encoded option as ssh host', 'ssh://%2doProxyCommand=x/repo', /must not start with "-"/],
      ['an option as scp-like path', 'git@example.com:--upload-pack=touch x', /spaces/],
      ['an option as scp-like path, no spaces', 'git@example.com:--upload-pack=x', /path must not start with "-"/],
      ['an option as scp-like host', 'x@-oProxyCommand:x', /must not start with "-"/],
      ['an option as ssh user', 'ssh://-oProxyCommand=x@example.com/repo', /must not start with "-"/],
      ['a %-encoded option as ssh user', 'ssh://%2DoProxyCommand=x@example.com/repo', /must not start with "-"/],
      ['an option as ssh path', 'ssh://example.com/-oProxyCommand=x', /path must not start with "-"/],
      ['a %-encoded option as ssh path', 'ssh://example.com/%2Dx', /path must not start with "-"/],
      ['an option after ~ in the path', 'ssh://example.com/~-x', /path must not start with "-"/],
      ['a broken %-escape', 'ssh://exa%zzmple.com/repo', /must be a URL|host name/],
      ['odd characters in a host once decoded', 'git://exa%3Dmple.com/repo', /host name or an IP address/],
      ['a password in an ssh URL', 'ssh://git:secret@example.com/repo', /cannot carry a password/],
      ['a user in a git:// URL', 'git://me@example.com/repo', /carry no user/],
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

  describe('splitRepoCredentials', () => {
    const table: Array<[string, string, { username: string; token: string } | undefined]> = [
      ['https://user:tok%40en@github.com/o/r.git', 'https://github.com/o/r.git', { username: 'user', token: 'tok@en' }],
      ['https://ghp_abc@github.com/o/r.git', 'https://github.com/o/r.git', { username: 'ghp_abc', token: '' }],
      ['http://:tok@127.0.0.1:8080/r', 'http://127.0.0.1:8080/r', { username: '', token: 'tok' }],
      ['https://github.com/o/r.git', 'https://github.com/o/r.git', undefined],
      ['ssh://git@example.com/r.git', 'ssh://git@example.com/r.git', undefined],
      ['git@example.com:r.git', 'git@example.com:r.git', undefined],
    ];
    for (const [url, stripped, credentials] of table) {
      it(`${url} → ${stripped}`, () => {
        expect(splitRepoCredentials(url)).to.deep.equal(
          credentials ? { url: stripped, credentials } : { url: stripped },
        );
      });
    }
  });

  describe('repoHost', () => {
    const table: Array<[string, string | undefined]> = [
      ['https://GitHub.com/o/r', 'github.com'],
      ['git://2130706433/r', '2130706433'],
      ['ssh://git@[::1]:22/r', '::1'],
      ['git@10.0.0.1:r', '10.0.0.1'],
      ['file:///srv/r', undefined],
    ];
    for (const [url, host] of table) {
      it(`${url} → ${host}`, () => expect(repoHost(url)).to.equal(host));
    }
  });

  describe('sameRepoOrigin (where a kept token may go)', () => {
    const table: Array<[string, string, boolean]> = [
      ['https://github.com/o/a.git', 'https://github.com/o/b.git', true],
      ['https://GitHub.com/o/a', 'https://github.com/o/a', true],
      ['https://github.com/o/a', 'https://gitlab.com/o/a', false],
      ['https://github.com/o/a', 'http://github.com/o/a', false],
      ['https://github.com/o/a', 'https://github.com:8443/o/a', false],
      ['https://github.com/o/a', 'https://github.com.evil.example/o/a', false],
      ['git@github.com:o/a.git', 'ssh://git@github.com/o/b.git', true],
      ['git://127.0.0.1:9418/a', 'git://127.0.0.1:9419/a', false],
      ['file:///srv/a', 'file:///srv/b', false],
    ];
    for (const [a, b, same] of table) {
      it(`${a} and ${b}: ${same ? 'same' : 'another'} server`, () => expect(sameRepoOrigin(a, b)).to.equal(same));
    }
  });

  describe('branchProblem', () => {
    for (const branch of ['main', 'feature/x', 'v1.2', 'release-2024.01', 'a@b', 'fix/issue_12']) {
      it(`accepts "${branch}"`, () => {
        expect(branchProblem(branch)).to.equal(undefined);
      });
    }

    const invalid = [
      '',
      'x'.repeat(256),
      '-x',
      'a..b',
      'a b',
      'a~1',
      'a^',
      'a:b',
      'a?',
      'a*',
      'a[',
      'a\\b',
      '@',
      'a@{b',
      'a//b',
      '/a',
      'a/',
      'a.',
      '.a',
      'a/.b',
      'a.lock',
      'a.lock/b',
      'a\tb',
      'a\nb',
      'a\0b',
      'a\x7fb',
    ];
    for (const branch of invalid) {
      it(`rejects ${JSON.stringify(branch.length > 20 ? `${branch.slice(0, 8)}… (${branch.length})` : branch)}`, () => {
        expect(branchProblem(branch)).to.be.a('string');
      });
    }
  });
});
