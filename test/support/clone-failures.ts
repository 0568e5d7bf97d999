import { defaultCloneLimits, explainGitFailure } from '../../src/workers/apps/clone.ts';

/** What the worker writes when git says `stderr` (workers/apps/clone.ts), as the CLI and dashboard read it. */
function failure(stderr: string, url = 'https://github.com/me/web.git', withToken = false): string {
  const host = new URL(url).host;
  return explainGitFailure(new Error(stderr), { host, url, branch: 'nope', withToken }, defaultCloneLimits, undefined)
    .message;
}

/**
 * A failed deploy's error for each kind of clone failure a user can fix, made by the worker's own
 * code from what git prints, so that the hints' tables fail when the worker's wording changes.
 */
export const cloneFailures = {
  branch: failure(
    'warning: Could not find remote branch nope to clone.\nfatal: Remote branch nope not found in upstream origin',
  ),
  repository: failure("remote: Repository not found.\nfatal: repository 'https://github.com/me/wbe.git/' not found"),
  privateRepository: failure("fatal: could not read Username for 'https://github.com': terminal prompts disabled"),
  refusedToken: failure(
    "remote: Invalid username or password.\nfatal: Authentication failed for 'https://github.com/me/web.git/'",
    'https://github.com/me/web.git',
    true,
  ),
  refusedSshKey: failure(
    'git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.',
    'ssh://git@github.com/me/web.git',
  ),
  unreachable: failure("fatal: unable to access 'https://github.com/me/web.git/': Could not resolve host: github.com"),
  build: 'build failed: npm ci exited 1',
};
