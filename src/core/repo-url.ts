/**
 * Checks on repository URLs and branch names before they reach git. Git accepts transports
 * that run commands (`ext::`), options disguised as URLs (`--upload-pack=...`) and local paths;
 * only the plain network transports pass, plus `file://` where the operator allows it.
 */
const networkSchemes = new Set(['https:', 'http:', 'ssh:', 'git:']);
/** `user@host:path`, git's scp-like ssh syntax. */
const scpLike = /^[a-z0-9._-]+@[a-z0-9.-]+:(?!\/\/)[^\s]+$/i;

export function repoUrlProblem(url: string, options: { allowLocal: boolean }): string | undefined {
  if (url.length === 0 || url.length > 2048) return 'must be 1 to 2048 characters';
  if (/[\s\0-\x1f\x7f]/.test(url)) return 'must not contain spaces or control characters';
  if (url.startsWith('-')) return 'must not start with "-"';
  if (/^[a-z0-9+.-]*::/i.test(url)) return 'remote helper transports ("ext::" and the like) are not allowed';
  if (scpLike.test(url)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be a URL (https://, http://, ssh://, git:// or user@host:path)';
  }
  if (parsed.protocol === 'file:') {
    return options.allowLocal ? undefined : 'file:// repositories are disabled (GASPER_ALLOW_LOCAL_REPOS)';
  }
  if (!networkSchemes.has(parsed.protocol)) return `scheme "${parsed.protocol.slice(0, -1)}" is not allowed`;
  if (!parsed.hostname) return 'must name a host';
  // ssh would read a host like "-oProxyCommand=..." as an option (newer git refuses it too).
  if (parsed.hostname.startsWith('-') || parsed.username.startsWith('-')) return 'host and user must not start with "-"';
  return undefined;
}

/** The rules of `git check-ref-format --branch`, as a pure function. */
export function branchProblem(branch: string): string | undefined {
  if (branch.length === 0 || branch.length > 255) return 'must be 1 to 255 characters';
  if (branch.startsWith('-')) return 'must not start with "-"';
  if (branch === '@') return 'must not be "@"';
  // eslint-disable-next-line no-control-regex
  if (/[\0-\x20\x7f~^:?*[\\]/.test(branch)) return 'must not contain spaces, control characters or ~^:?*[\\';
  if (branch.includes('..') || branch.includes('@{') || branch.includes('//')) return 'must not contain "..", "@{" or "//"';
  if (branch.startsWith('/') || branch.endsWith('/') || branch.endsWith('.')) return 'must not start or end with "/" or end with "."';
  if (branch.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))) {
    return 'no component may start with "." or end with ".lock"';
  }
  return undefined;
}
