import fs from 'node:fs/promises';
import path from 'node:path';
import { basicAuthorization, maskCredentials, type RepoCredentials } from '../../core/repo-credentials.ts';
import { addressProblem, literalAddress, systemLookup, type Lookup } from '../../core/repo-host.ts';
import { parseRepoUrl, repoHost } from '../../core/repo-url.ts';
import { GitTimeoutError, runGit, GitCommandError } from './git-command.ts';

/**
 * Why a clone failed. `user`: the repository, branch, commit or credentials are wrong (another
 * attempt will not fix it); `timeout`: the server did not answer or the clone took too long (a
 * second attempt would hold a worker slot as long again, so none is made); `transient`: the
 * network or the server failed, worth another attempt.
 */
export type CloneFailureKind = 'user' | 'timeout' | 'transient';

export class CloneFailedError extends Error {
  readonly permanent: boolean;
  constructor(
    message: string,
    readonly kind: CloneFailureKind,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'CloneFailedError';
    this.permanent = kind !== 'transient';
  }
}

/** Time limits of one clone. */
export interface CloneLimits {
  /** No output (progress included) from git for this long: the server is not answering. */
  idleTimeoutMs: number;
  /** The whole clone, however busy. */
  timeoutMs: number;
}

export const defaultCloneLimits: CloneLimits = { idleTimeoutMs: 60_000, timeoutMs: 10 * 60_000 };

/** Where a failed clone went: the host for what the network did, the URL for what the repository lacks. */
interface CloneTarget {
  host: string;
  /** The repository URL as the app has it (credentials are kept apart, never in it). */
  url: string;
  branch?: string;
  /** Whether the clone sent an access token: a refusal then means the token, not its absence. */
  withToken: boolean;
}

/**
 * What git's message means for the user, in words that do not map the network: a refused
 * connection, a closed port, a reset and a non-git service all read "could not reach". The
 * full message goes to the worker's log (`detail`).
 */
const userErrors: Array<[RegExp, (at: CloneTarget) => string]> = [
  [
    /repository .*not found|Repository not found|repository not exported|does not appear to be a git repository|The requested URL returned error: 404/i,
    (at) => `repository ${at.url} not found (or the credentials given cannot read it)`,
  ],
  [
    /Authentication failed|could not read (?:Username|Password)|The requested URL returned error: 40[13]|Permission denied \(|Invalid username or password/i,
    (at) => `authentication failed for ${at.url}: ${authenticationAdvice(at)}`,
  ],
  [
    /Remote branch (\S+) not found|couldn't find remote ref/i,
    (at) => `branch ${at.branch ?? '(default)'} not found in ${at.url}`,
  ],
  [
    /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i,
    (at) => `the SSH host key of ${at.host} differs from the one recorded at the first clone`,
  ],
  [/transport '.*' not allowed/i, () => 'this kind of repository URL is not allowed'],
];
/**
 * What to do about a refused clone: the token was refused, or there was none; over ssh the key
 * offered is the installation's (an operator's, never a tenant's), so the way in is https.
 */
function authenticationAdvice(at: CloneTarget): string {
  if (parseRepoUrl(at.url)?.scheme === 'ssh')
    return "the server refused this installation's SSH key: clone over https with an access token (repo.token) instead";
  if (at.withToken)
    return 'the server refused the access token (expired, mistyped, or without read access to this repository)';
  return 'the repository is private: give the app an access token (repo.token, https) or make the repository public';
}

const tlsError = /SSL certificate problem|server certificate verification failed|certificate verify failed/i;

/**
 * What git inherits from the worker's environment: where to find things and how to reach the
 * network (proxies, CA bundles), and nothing that could run a program of the environment's
 * choosing (EDITOR, PAGER, GIT_CONFIG_* and the like) or lend the worker's identity to a
 * tenant's URL (SSH_AUTH_SOCK: root's keys).
 */
const inheritedVariables = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'TMPDIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'GIT_SSL_CAINFO',
  'GIT_SSL_CAPATH',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'CURL_CA_BUNDLE',
];

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function gitEnvironment(options: {
  sshDir: string;
  idleTimeoutMs: number;
  credentials?: RepoCredentials;
  url: string;
}): Record<string, string> {
  const env: Record<string, string> = Object.fromEntries(
    inheritedVariables.flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : [])),
  );
  const connectSeconds = Math.max(1, Math.ceil(options.idleTimeoutMs / 1000));
  Object.assign(env, {
    // Gasper's settings only: neither the operator's ~/.gitconfig nor /etc/gitconfig (insteadOf, hooks, helpers).
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'true',
    // This installation's known_hosts (first use recorded, changes refused), no ssh config, and
    // no key but the installation's own (root's ~/.ssh keys must not open tenants' URLs).
    GIT_SSH_COMMAND: [
      'ssh',
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      `UserKnownHostsFile=${shellQuote(path.join(options.sshDir, 'known_hosts'))}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `IdentityFile=${shellQuote(path.join(options.sshDir, 'id_ed25519'))}`,
      '-o',
      `ConnectTimeout=${connectSeconds}`,
    ].join(' '),
    GIT_SSH_VARIANT: 'ssh',
  });
  if (options.credentials) {
    // In git's environment (readable by root and the worker's user only), never in argv (`ps`).
    // Scoped to the repository's origin, so no other host receives it.
    const origin = new URL(options.url).origin;
    Object.assign(env, {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: `http.${origin}/.extraHeader`,
      GIT_CONFIG_VALUE_0: `Authorization: ${basicAuthorization(options.credentials)}`,
    });
  }
  return env;
}

export interface CloneOptions {
  url: string;
  branch?: string;
  /** A full commit id to check out instead of the branch head (a push webhook's `after`). */
  commit?: string;
  dir: string;
  allowLocal: boolean;
  /** Opened from the app's `repo.sealedCredentials`. */
  credentials?: RepoCredentials;
  limits?: Partial<CloneLimits>;
  /** Where this installation's ssh `known_hosts` (and optional `id_ed25519`) live. */
  sshDir: string;
  lookup?: Lookup;
}

/**
 * Shallow, single-branch clone into an empty `dir` (emptied first, so a retry starts clean);
 * with `commit`, that exact commit instead of the branch head (see checkoutCommit).
 * The host is checked against where it resolves now (the API checked at creation; DNS may have
 * changed since), and for http(s) git is pinned to the addresses checked. Only the network
 * transports are allowed, plus `file` when local repositories are. Never prompts.
 */
export async function cloneRelease(options: CloneOptions): Promise<{ commit: string }> {
  const limits = { ...defaultCloneLimits, ...options.limits };
  const deadline = Date.now() + limits.timeoutMs;
  const host = repoHost(options.url);
  const where = host ?? options.url;
  const pinned = host ? await checkHost(host, options) : [];
  await fs.rm(options.dir, { recursive: true, force: true });
  await fs.mkdir(options.dir, { recursive: true });
  await fs.mkdir(options.sshDir, { recursive: true, mode: 0o700 });
  const allow = ['https', 'http', 'ssh', 'git', ...(options.allowLocal ? ['file'] : [])];
  // No redirects: the host checked (and pinned) must be the only one git talks to; a redirect
  // would take it to any address, metadata services included.
  const config = [
    'protocol.allow=never',
    ...allow.map((p) => `protocol.${p}.allow=always`),
    'http.followRedirects=false',
    ...pinConfig(options.url, host, pinned),
  ];
  const env = gitEnvironment({
    sshDir: options.sshDir,
    idleTimeoutMs: limits.idleTimeoutMs,
    credentials: options.credentials,
    url: options.url,
  });
  const git = (args: string[], cwd?: string) =>
    runGit([...config.flatMap((c) => ['-c', c]), ...args], {
      cwd,
      env,
      idleTimeoutMs: limits.idleTimeoutMs,
      timeoutMs: Math.max(1, deadline - Date.now()),
    });
  try {
    if (options.commit) await checkoutCommit(git, { ...options, commit: options.commit });
    else
      await git([
        'clone',
        '--progress',
        '--depth',
        '1',
        '--single-branch',
        '--no-tags',
        ...(options.branch ? ['--branch', options.branch] : []),
        '--',
        options.url,
        options.dir,
      ]);
    const commit = (await git(['rev-parse', 'HEAD'], options.dir)).stdout.trim();
    await fs.rm(`${options.dir}/.git`, { recursive: true, force: true });
    return { commit };
  } catch (err) {
    throw explainGitFailure(
      err,
      { host: where, url: options.url, branch: options.branch, withToken: !!options.credentials },
      limits,
      options.credentials,
    );
  }
}

/** The addresses `host` resolves to, each allowed; a refusal is the user's error. */
async function checkHost(host: string, options: CloneOptions): Promise<string[]> {
  const literal = literalAddress(host);
  const addresses = literal ? [literal] : await (options.lookup ?? systemLookup)(host).catch(() => undefined);
  if (!addresses?.length)
    throw new CloneFailedError(
      `could not reach the repository at ${host}: the host name does not resolve`,
      'transient',
    );
  for (const address of addresses) {
    const problem = addressProblem(host, address, options);
    if (problem) throw new CloneFailedError(`repository refused: ${problem}`, 'user');
  }
  return addresses;
}

/**
 * curl's resolve list: git connects to the addresses just checked, not to what a second DNS
 * answer (rebinding) would say. ssh:// and git:// resolve again in git; see the security notes.
 */
function pinConfig(url: string, host: string | undefined, addresses: string[]): string[] {
  const parts = parseRepoUrl(url);
  if (!host || !parts || (parts.scheme !== 'http' && parts.scheme !== 'https') || literalAddress(host)) return [];
  const port = new URL(url).port || (parts.scheme === 'https' ? '443' : '80');
  return [`http.curloptResolve=${host}:${port}:${addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(',')}`];
}

type Git = (args: string[], cwd?: string) => Promise<{ stdout: string; stderr: string }>;

/**
 * Fetches one commit shallowly (`git init` + `fetch --depth 1 origin <sha>`), which works
 * against servers that serve any reachable commit (GitHub, GitLab, protocol v2 servers, or
 * `uploadpack.allowReachableSHA1InWant`). Servers that refuse get a full clone of the branch
 * and a checkout of the commit, which must be on it. A timeout is not tried the other way.
 */
async function checkoutCommit(
  git: Git,
  options: { url: string; branch?: string; commit: string; dir: string },
): Promise<void> {
  try {
    await git(['init', '-q'], options.dir);
    await git(['remote', 'add', 'origin', options.url], options.dir);
    await git(['fetch', '--progress', '--depth', '1', '--no-tags', 'origin', options.commit], options.dir);
    await git(['checkout', '-q', '--detach', options.commit], options.dir);
    return;
  } catch (err) {
    if (err instanceof GitTimeoutError) throw err;
    await fs.rm(options.dir, { recursive: true, force: true });
    await fs.mkdir(options.dir, { recursive: true });
  }
  await git([
    'clone',
    '--progress',
    '--single-branch',
    '--no-tags',
    ...(options.branch ? ['--branch', options.branch] : []),
    '--',
    options.url,
    options.dir,
  ]);
  try {
    await git(['checkout', '-q', '--detach', options.commit], options.dir);
  } catch {
    throw new CloneFailedError(
      `commit ${options.commit} is not on branch ${options.branch ?? '(default)'} of ${options.url}`,
      'user',
    );
  }
}

/**
 * The failure a user reads for what git said (`err`). Exported for the CLI's hint table
 * (test/client/format.unit.test.ts), which reads these messages.
 */
export function explainGitFailure(
  err: unknown,
  at: CloneTarget,
  limits: CloneLimits,
  credentials: RepoCredentials | undefined,
): CloneFailedError {
  const where = at.host;
  if (err instanceof CloneFailedError) return err;
  if (err instanceof GitTimeoutError) {
    const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
    const message =
      err.reason === 'total'
        ? `git clone failed: cloning from ${where} took longer than ${seconds(limits.timeoutMs)} (GASPER_CLONE_TIMEOUT_MS)`
        : err.heard
          ? `git clone failed: ${where} stopped sending for ${seconds(limits.idleTimeoutMs)} (GASPER_CLONE_IDLE_TIMEOUT_MS)`
          : `git clone failed: the server at ${where} did not answer within ${seconds(limits.idleTimeoutMs)} (GASPER_CLONE_IDLE_TIMEOUT_MS)`;
    return new CloneFailedError(message, 'timeout', maskCredentials(err.output, credentials));
  }
  const detail = maskCredentials(
    err instanceof GitCommandError ? err.stderr : String((err as Error)?.message ?? err),
    credentials,
  );
  for (const [pattern, say] of userErrors)
    if (pattern.test(detail)) return new CloneFailedError(`git clone failed: ${say(at)}`, 'user', detail);
  if (tlsError.test(detail))
    return new CloneFailedError(
      `git clone failed: the TLS certificate of ${where} could not be verified`,
      'user',
      detail,
    );
  return new CloneFailedError(`git clone failed: could not reach the repository at ${where}`, 'transient', detail);
}
