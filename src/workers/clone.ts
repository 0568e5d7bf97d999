import fs from 'node:fs/promises';
import { simpleGit, type SimpleGit } from 'simple-git';

export class CloneFailedError extends Error {
  constructor(message: string, readonly permanent: boolean) {
    super(message);
    this.name = 'CloneFailedError';
  }
}

/** Git errors that another attempt will not fix. */
const permanentPatterns = [
  /repository .* not found/i,
  /does not appear to be a git repository/i,
  /Remote branch .* not found/i,
  /couldn't find remote ref/i,
  /Authentication failed/i,
  /could not read Username/i,
  /Permission denied/i,
  /transport '.*' not allowed/i,
  /commit [0-9a-f]+ is not on branch/i,
];

/**
 * What git inherits from the worker's environment: where to find things, how to reach the
 * network (proxies, CA bundles, an ssh agent), and nothing that could run a program of the
 * environment's choosing (EDITOR, PAGER, GIT_CONFIG_* and the like).
 */
const inheritedVariables = [
  'PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'SSH_AUTH_SOCK',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy',
  'GIT_SSL_CAINFO', 'GIT_SSL_CAPATH', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'CURL_CA_BUNDLE',
];

function gitEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(inheritedVariables.flatMap((name) => (env[name] ? [[name, env[name]!]] : [])));
}

/**
 * Shallow, single-branch clone into an empty `dir` (emptied first, so a retry starts clean);
 * with `commit`, that exact commit instead of the branch head (see checkoutCommit).
 * Only the network transports are allowed, plus `file` when local repositories are, whatever
 * the URL validation upstream let through. Never prompts for credentials.
 */
export async function cloneRelease(options: {
  url: string;
  branch?: string;
  /** A full commit id to check out instead of the branch head (a push webhook's `after`). */
  commit?: string;
  dir: string;
  allowLocal: boolean;
  timeoutMs?: number;
}): Promise<{ commit: string }> {
  await fs.rm(options.dir, { recursive: true, force: true });
  await fs.mkdir(options.dir, { recursive: true });
  const allow = ['https', 'http', 'ssh', 'git', ...(options.allowLocal ? ['file'] : [])];
  const config = ['protocol.allow=never', ...allow.map((p) => `protocol.${p}.allow=always`)];
  // simple-git refuses these settings by default in case they come from users; here they are
  // Gasper's own and only narrow what git may do: protocols allowed, no prompts, batch-mode ssh.
  const git = simpleGit({
    config,
    timeout: { block: options.timeoutMs ?? 120_000 },
    unsafe: { allowUnsafeProtocolOverride: true, allowUnsafeAskPass: true, allowUnsafeSshCommand: true },
  }).env({
    ...gitEnvironment(process.env),
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'true',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new',
  });
  const args = ['--depth', '1', '--single-branch', '--no-tags', ...(options.branch ? ['--branch', options.branch] : [])];
  try {
    if (options.commit) await checkoutCommit(git, { ...options, commit: options.commit });
    else await git.clone(options.url, options.dir, args);
    const commit = (await simpleGit(options.dir).revparse(['HEAD'])).trim();
    await fs.rm(`${options.dir}/.git`, { recursive: true, force: true });
    return { commit };
  } catch (err) {
    const message = (err as Error).message.trim();
    throw new CloneFailedError(`git clone failed: ${message}`, permanentPatterns.some((p) => p.test(message)));
  }
}

/**
 * Fetches one commit shallowly (`git init` + `fetch --depth 1 origin <sha>`), which works
 * against servers that serve any reachable commit (GitHub, GitLab, protocol v2 servers, or
 * `uploadpack.allowReachableSHA1InWant`). Servers that refuse get a full clone of the branch
 * and a checkout of the commit, which must be on it.
 */
async function checkoutCommit(git: SimpleGit, options: { url: string; branch?: string; commit: string; dir: string }): Promise<void> {
  const repo = git.cwd(options.dir);
  try {
    await repo.init(['-q']);
    await repo.addRemote('origin', options.url);
    await repo.fetch(['--depth', '1', '--no-tags', '--quiet', 'origin', options.commit]);
    await repo.checkout(['-q', '--detach', options.commit]);
    return;
  } catch {
    await fs.rm(options.dir, { recursive: true, force: true });
    await fs.mkdir(options.dir, { recursive: true });
  }
  await git.clone(options.url, options.dir, ['--single-branch', '--no-tags', '--quiet', ...(options.branch ? ['--branch', options.branch] : [])]);
  try {
    await git.cwd(options.dir).checkout(['-q', '--detach', options.commit]);
  } catch {
    throw new Error(`commit ${options.commit} is not on branch ${options.branch ?? '(default)'} of ${options.url}`);
  }
}
