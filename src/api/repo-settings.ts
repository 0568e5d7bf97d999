import { z } from 'zod';
import { defaultTokenUser, sealCredentials } from '../core/repo-credentials.ts';
import { normalRepoPath } from '../core/repo-path.ts';
import { hostProblem, type Lookup } from '../core/repo-host.ts';
import { parseRepoUrl, repoHost, splitRepoCredentials } from '../core/repo-url.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { AppDocument } from '../store/app-document.ts';
import { ApiError } from './errors.ts';

/** `repo.token`: a secret for https repositories (a personal or deploy access token). */
export const repoTokenField = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII with no spaces');
/** `repo.username`: the user name the token goes with (default `x-access-token`). */
export const repoUsernameField = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x39\x3b-\x7e]+$/, 'printable ASCII with no spaces or ":"');

export interface RepoCheckOptions {
  allowLocal: boolean;
  secrets: SecretBox;
  /** The resolver (tests); default the system's. */
  lookup?: Lookup;
}

const invalid = (field: string, message: string) =>
  new ApiError('VALIDATION_FAILED', `invalid request: ${field}: ${message}`, { [field]: message });

/**
 * Why a token may not go with `url`: git sends it as Basic auth, in clear over http://. Local
 * test servers (GASPER_ALLOW_LOCAL_REPOS) may be plain http.
 */
export function tokenSchemeProblem(url: string, allowLocal: boolean): string | undefined {
  const scheme = parseRepoUrl(url)?.scheme;
  if (scheme === 'https' || (scheme === 'http' && allowLocal)) return undefined;
  return scheme === 'http'
    ? 'a token is sent only over https:// (over http:// anyone on the way would read it)'
    : 'a token is for https:// repositories';
}

/**
 * The repository as stored: credentials in the URL moved into the sealed secret (the URL is
 * shown, logged and copied into releases), the host checked against where it resolves now (the
 * worker checks again when it clones: DNS may change).
 */
export async function storedRepo(
  repo: { url: string; branch?: string; path?: string; token?: string; username?: string },
  options: RepoCheckOptions,
): Promise<AppDocument['repo']> {
  if (repo.username && !repo.token) throw invalid('repo.username', 'goes with repo.token');
  const checked = await checkedRepo(repo, repo.url, { allowLocalRepos: options.allowLocal, lookup: options.lookup });
  const path = normalRepoPath(repo.path);
  return {
    url: checked.url,
    ...(repo.branch ? { branch: repo.branch } : {}),
    ...(path ? { path } : {}),
    ...(typeof checked.token === 'string'
      ? {
          sealedCredentials: sealCredentials(options.secrets, {
            username: checked.username ?? defaultTokenUser,
            token: checked.token,
          }),
        }
      : {}),
  };
}

/** 400 naming `repo.url` when the host resolves to an address repositories may not be on. */
export async function checkRepoHost(url: string, options: { allowLocal: boolean; lookup?: Lookup }): Promise<void> {
  const host = repoHost(url);
  if (host === undefined) return;
  // An unresolvable host passes here (DNS may be down for a moment); the worker refuses it.
  const problem = await hostProblem(host, {
    allowLocal: options.allowLocal,
    lookup: options.lookup,
    timeoutMs: 3000,
    onLookupError: 'accept',
  });
  if (problem) throw invalid('repo.url', problem);
}

/**
 * A repository as `POST /apps` gives it or `PATCH /apps/:name` changes it: credentials in the
 * URL moved into `token` and `username` (a name alone, `https://<token>@host`, is a token with an
 * empty password: `token` is then ""), a token only for https (the URL's, else `currentUrl`, the
 * app's), the host where repositories may be.
 */
export async function checkedRepo<R extends { url?: string; token?: string | null; username?: string }>(
  repo: R,
  currentUrl: string,
  options: { allowLocalRepos: boolean; lookup?: Lookup },
): Promise<R> {
  let patch = repo;
  if (repo.url !== undefined) {
    const { url, credentials } = splitRepoCredentials(repo.url);
    if (credentials && repo.token)
      throw invalid('repo.url', 'carries credentials and repo.token is given too: give the token once');
    const schemeProblem = credentials && tokenSchemeProblem(url, options.allowLocalRepos);
    if (schemeProblem) throw invalid('repo.url', `carries credentials: ${schemeProblem}`);
    patch = { ...repo, url, ...(credentials ? { token: credentials.token, username: credentials.username } : {}) };
    await checkRepoHost(url, { allowLocal: options.allowLocalRepos, lookup: options.lookup });
  }
  const tokenProblem =
    typeof patch.token === 'string' ? tokenSchemeProblem(patch.url ?? currentUrl, options.allowLocalRepos) : undefined;
  if (tokenProblem) throw invalid('repo.token', tokenProblem);
  return patch;
}
