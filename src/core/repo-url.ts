/**
 * Checks on repository URLs and branch names before they reach git. Git accepts transports
 * that run commands (`ext::`), options disguised as URLs (`--upload-pack=...`) and local paths;
 * only the plain network transports pass, plus `file://` where the operator allows it. Where a
 * URL's host may point is checked apart, with DNS (repo-host.ts).
 */
const networkSchemes = new Set(['https:', 'http:', 'ssh:', 'git:']);
/** `user@host:path`, git's scp-like ssh syntax. */
const scpLike = /^([^@/:\s]+)@([^@/:\s]+):(?!\/\/)(\S+)$/;
/** A host name or an IPv6 literal, after percent-decoding. */
const hostName = /^(?:[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?|\[[0-9a-f:.]+\])$/i;

/** The parts of a repository URL that git hands to ssh or to the resolver, percent-decoded. */
export interface RepoUrlParts {
  kind: 'url' | 'scp' | 'file';
  scheme: string;
  host: string;
  username: string;
  password: string;
  path: string;
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** Splits a URL git would accept into its parts; undefined when it is not one. */
export function parseRepoUrl(url: string): RepoUrlParts | undefined {
  const scp = scpLike.exec(url);
  if (scp) return { kind: 'scp', scheme: 'ssh', username: scp[1]!, host: scp[2]!, password: '', path: scp[3]! };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const [host, username, password, path] = [parsed.hostname, parsed.username, parsed.password, parsed.pathname].map(
    decode,
  );
  if (host === undefined || username === undefined || password === undefined || path === undefined) return undefined;
  return {
    kind: parsed.protocol === 'file:' ? 'file' : 'url',
    scheme: parsed.protocol.slice(0, -1),
    host,
    username,
    password,
    path,
  };
}

export function repoUrlProblem(url: string, options: { allowLocal: boolean }): string | undefined {
  if (url.length === 0 || url.length > 2048) return 'must be 1 to 2048 characters';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\s\0-\x1f\x7f]/.test(url)) return 'must not contain spaces or control characters';
  if (url.startsWith('-')) return 'must not start with "-"';
  if (/^[a-z0-9+.-]*::/i.test(url)) return 'remote helper transports ("ext::" and the like) are not allowed';
  // URL parsers disagree on these, and the host we check must be the host git connects to:
  // Node reads "\\" as "/" in http(s) URLs where curl keeps it in the user name
  // (http://example.com\\@127.0.0.1/ is example.com to one and 127.0.0.1 to the other), and
  // two "@" in the authority split differently from one parser to the next.
  if (url.includes('\\')) return 'must not contain "\\"';
  if ((/^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url)?.[1] ?? '').split('@').length > 2)
    return 'must not contain more than one "@" before the host';
  const parts = parseRepoUrl(url);
  if (!parts) return 'must be a URL (https://, http://, ssh://, git:// or user@host:path) with valid %-escapes';
  if (parts.kind === 'file') {
    return options.allowLocal ? undefined : 'file:// repositories are disabled (GASPER_ALLOW_LOCAL_REPOS)';
  }
  if (!networkSchemes.has(`${parts.scheme}:`)) return `scheme "${parts.scheme}" is not allowed`;
  if (!parts.host) return 'must name a host';
  // ssh reads a host, user or path like "-oProxyCommand=..." as an option, and git hands the
  // path of an scp-like URL to git-upload-pack; git decodes %-escapes first (%2D is "-").
  if (parts.host.startsWith('-') || parts.username.startsWith('-')) return 'host and user must not start with "-"';
  if (parts.path.replace(/^[/~]+/, '').startsWith('-')) return 'the path must not start with "-"';
  if (!hostName.test(parts.host)) return 'the host must be a host name or an IP address';
  if (parts.password && (parts.scheme === 'ssh' || parts.scheme === 'git')) {
    return `${parts.scheme}:// URLs cannot carry a password (use an https URL and repo.token)`;
  }
  if (parts.username && parts.scheme === 'git') return 'git:// URLs carry no user';
  return undefined;
}

/**
 * An http(s) URL's user name and password are credentials: they are moved out of the URL (which
 * is stored, shown and logged) into the app's sealed secret. Other URLs are returned unchanged
 * (an ssh user name is not a secret).
 */
export function splitRepoCredentials(url: string): { url: string; credentials?: { username: string; token: string } } {
  const parts = parseRepoUrl(url);
  if (parts?.kind !== 'url' || (parts.scheme !== 'http' && parts.scheme !== 'https')) return { url };
  if (!parts.username && !parts.password) return { url };
  const stripped = new URL(url);
  stripped.username = '';
  stripped.password = '';
  return { url: stripped.toString(), credentials: { username: parts.username, token: parts.password } };
}

/** The host a repository URL names, as git will resolve it; undefined for file:// and non-URLs. */
export function repoHost(url: string): string | undefined {
  const parts = parseRepoUrl(url);
  if (!parts || parts.kind === 'file') return undefined;
  return parts.host.startsWith('[') ? parts.host.slice(1, -1) : parts.host;
}

/**
 * Whether two repository URLs reach the same server (scheme, host and port): only then may a
 * token given for one be sent to the other. Sent anywhere else, it would hand a tenant's secret
 * to a host the tenant never gave it to.
 */
export function sameRepoOrigin(a: string, b: string): boolean {
  const [pa, pb] = [parseRepoUrl(a), parseRepoUrl(b)];
  if (!pa || !pb || pa.kind === 'file' || pb.kind === 'file') return false;
  // `URL.origin` is "null" for git:// and ssh://: scheme and host (with its port) instead.
  const server = (url: string, parts: RepoUrlParts) =>
    parts.kind === 'url' ? `${parts.scheme}://${new URL(url).host}` : `${parts.scheme}://${parts.host.toLowerCase()}`;
  return server(a, pa) === server(b, pb);
}

/** The rules of `git check-ref-format --branch`, as a pure function. */
export function branchProblem(branch: string): string | undefined {
  if (branch.length === 0 || branch.length > 255) return 'must be 1 to 255 characters';
  if (branch.startsWith('-')) return 'must not start with "-"';
  if (branch === '@') return 'must not be "@"';
  // eslint-disable-next-line no-control-regex
  if (/[\0-\x20\x7f~^:?*[\\]/.test(branch)) return 'must not contain spaces, control characters or ~^:?*[\\';
  if (branch.includes('..') || branch.includes('@{') || branch.includes('//'))
    return 'must not contain "..", "@{" or "//"';
  if (branch.startsWith('/') || branch.endsWith('/') || branch.endsWith('.'))
    return 'must not start or end with "/" or end with "."';
  if (branch.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))) {
    return 'no component may start with "." or end with ".lock"';
  }
  return undefined;
}
