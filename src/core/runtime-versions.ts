import semver from 'semver';

/**
 * Which version of its runtime an app gets, from the files of its repository. Pure: the caller
 * reads the files (src/workers/apps/runtime-image.ts) and passes the catalog of what the images
 * carry (src/core/runtime-catalog.ts).
 *
 * Node: `.node-version`, then `.nvmrc`, then `engines.node` in package.json (the files that name
 * one version win over the range a package accepts, as Render and nvm users expect); the highest
 * major whose version satisfies it. Nothing asked: the default (the current LTS). Python, Ruby,
 * PHP, Go and Rust: their images carry Debian's one version, which must fit what the repository asks.
 */

/** The versions one runtime offers. */
export interface RuntimeVersions {
  /** Display name ("Node"). */
  label: string;
  /** What an app chooses among (Node majors "20", or Debian's "3.11"), oldest first. */
  versions: string[];
  /** The exact version behind each choice ("24" → "24.22.3"). */
  exact: Record<string, string>;
  /** The version of an app that asks for none. */
  default: string;
}

export type RuntimeCatalog = Readonly<Record<string, RuntimeVersions>>;

/** The version files read from a repository's top level (each absent or its text). */
export const versionFiles = [
  'package.json',
  '.nvmrc',
  '.node-version',
  'runtime.txt',
  '.python-version',
  '.ruby-version',
  'go.mod',
  'Cargo.toml',
] as const;
export type VersionFile = (typeof versionFiles)[number];
export type VersionFileContents = Partial<Record<VersionFile, string>>;

/** The files that choose each runtime's version, the first found winning (what GET /runtimes shows). */
export const versionSources: Readonly<Record<string, readonly string[]>> = {
  node: ['.node-version', '.nvmrc', 'engines.node in package.json'],
  python: ['.python-version', 'runtime.txt (python-3.11)'],
  ruby: ['.ruby-version'],
  php: ['runtime.txt (php-8.2)'],
  go: ["go.mod's go line (the least version)"],
  rust: ['rust-version in Cargo.toml (the least version)'],
};

export interface VersionChoice {
  version: string;
  /** Why, for the job log: `from engines.node "22.x" in package.json`. */
  reason: string;
}

/** A repository asks for a version this platform does not have (or writes one that is not a version). */
export class RuntimeVersionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeVersionError';
  }
}

/** "20, 22 and 24". */
export function listVersions(versions: readonly string[]): string {
  return versions.length < 2 ? (versions[0] ?? 'none') : `${versions.slice(0, -1).join(', ')} and ${versions.at(-1)}`;
}

/** "this platform has Node 20 (20.20.2), 22 (22.23.5) and 24 (24.22.3)": what an error names. */
const has = (catalog: RuntimeVersions) => {
  const named = catalog.versions.map((v) => {
    const exact = catalog.exact[v];
    return exact && exact !== v && catalog.versions.length > 1 ? `${v} (${exact})` : v;
  });
  return `this platform has ${catalog.label} ${listVersions(named)}`;
};

/** The first line that is not empty nor a comment (nvm and pyenv allow `#` comments). */
function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .map((l) => l.replace(/#.*/, '').trim())
      .find(Boolean) ?? ''
  );
}

/** Node's LTS code names (nvm's `lts/<name>`), by major. */
const ltsNames: Record<string, string> = { hydrogen: '18', iron: '20', jod: '22', krypton: '24' };

/** The highest Node major satisfying `spec` (a version, a semver range, `lts/*`, `node`...). */
function nodeMajorFor(spec: string, source: string, catalog: RuntimeVersions): VersionChoice {
  const asked = spec.trim();
  const reason = `from ${source}`;
  const newest = catalog.versions.at(-1) ?? catalog.default;
  const lower = asked.toLowerCase();
  if (['node', 'stable', 'latest', 'current', '*', 'x'].includes(lower)) return { version: newest, reason };
  if (lower === 'lts/*' || lower === 'lts') {
    // Every even major is an LTS line; the newest one here.
    const lts = catalog.versions.filter((v) => Number(v) % 2 === 0).at(-1);
    if (lts) return { version: lts, reason };
  }
  if (lower.startsWith('lts/')) {
    const major = ltsNames[lower.slice(4)];
    if (major && catalog.versions.includes(major)) return { version: major, reason };
    throw new RuntimeVersionError(`${source} asks for Node ${major ?? asked}: ${has(catalog)}`);
  }
  const range = semver.validRange(asked.replace(/^v(?=\d)/i, ''));
  if (!range) throw new RuntimeVersionError(`${source} is not a Node version or range: ${has(catalog)}`);
  const fits = catalog.versions.filter((major) => semver.satisfies(catalog.exact[major] ?? `${major}.0.0`, range));
  const best = fits.at(-1);
  if (best) return { version: best, reason };
  // An exact older release of a major (".nvmrc" with "22.1.0"): the major's one version serves it.
  const exact = /^v?(\d+)\.\d+\.\d+$/i.exec(asked);
  if (exact?.[1] && catalog.versions.includes(exact[1]))
    return { version: exact[1], reason: `${reason}; this platform has ${catalog.exact[exact[1]]} of that major` };
  throw new RuntimeVersionError(`${source}: ${has(catalog)}`);
}

function chooseNode(files: VersionFileContents, catalog: RuntimeVersions): VersionChoice {
  for (const file of ['.node-version', '.nvmrc'] as const) {
    const text = files[file];
    if (text === undefined) continue;
    const spec = firstLine(text);
    if (spec) return nodeMajorFor(spec, `${file} "${spec}"`, catalog);
  }
  if (files['package.json'] !== undefined) {
    let engines: unknown;
    try {
      engines = (JSON.parse(files['package.json']) as { engines?: { node?: unknown } } | null)?.engines?.node;
    } catch {
      engines = undefined; // conventions.ts reports a package.json that is not JSON
    }
    if (typeof engines === 'string' && engines.trim())
      return nodeMajorFor(engines, `engines.node "${engines.trim()}" in package.json`, catalog);
  }
  return { version: catalog.default, reason: 'the default, the current LTS: no .node-version, .nvmrc or engines.node' };
}

/**
 * Whether `asked` ("3.11.4", "3", "1.21") is served by `have` ("3.11"): equal in every part both
 * name. Debian's one version is a major.minor line; the patch level is Debian's.
 */
const samePrefix = (asked: string, have: string) => {
  const a = asked.split('.');
  const h = have.split('.');
  return a.every((part, i) => i >= h.length || part === h[i]);
};

/** A version for a runtime with one version (Debian's): `asked` from `source` must fit it. */
function single(catalog: RuntimeVersions, asked: string, source: string): VersionChoice {
  const have = catalog.default;
  if (!/^\d+(\.\d+)*$/.test(asked))
    throw new RuntimeVersionError(`${source} is not a ${catalog.label} version: ${has(catalog)}`);
  if (!samePrefix(asked, have))
    throw new RuntimeVersionError(`${source} asks for ${catalog.label} ${asked}: ${has(catalog)}`);
  return { version: have, reason: `from ${source}` };
}

/** `runtime.txt` in Heroku's form: `python-3.11.4`, `php-8.2`. */
function runtimeTxt(files: VersionFileContents, prefix: string): { asked: string; source: string } | undefined {
  const line = files['runtime.txt'] === undefined ? '' : firstLine(files['runtime.txt']);
  if (!line) return undefined;
  const asked = line.toLowerCase().startsWith(`${prefix}-`) ? line.slice(prefix.length + 1) : line;
  return { asked, source: `runtime.txt "${line}"` };
}

const fromFile = (files: VersionFileContents, file: VersionFile, strip: RegExp) => {
  const line = files[file] === undefined ? '' : firstLine(files[file]);
  return line ? { asked: line.replace(strip, ''), source: `${file} "${line}"` } : undefined;
};

/**
 * The version `runtime` runs for a repository with `files`, and why; undefined for a runtime
 * without versions (static). Throws RuntimeVersionError naming the versions there are.
 */
export function chooseRuntimeVersion(
  runtime: string,
  files: VersionFileContents,
  catalogs: RuntimeCatalog,
): VersionChoice | undefined {
  const catalog = catalogs[runtime];
  if (!catalog) return undefined;
  if (runtime === 'node') return chooseNode(files, catalog);
  let wanted: { asked: string; source: string } | undefined;
  if (runtime === 'python') wanted = fromFile(files, '.python-version', /^python-?/i) ?? runtimeTxt(files, 'python');
  else if (runtime === 'ruby') wanted = fromFile(files, '.ruby-version', /^ruby-/i);
  else if (runtime === 'php') wanted = runtimeTxt(files, 'php');
  else if (runtime === 'go') {
    // go.mod's `go` line is the least version the module needs: an older toolchain cannot build it.
    const line = /^go\s+(\d+(?:\.\d+)*)\s*$/m.exec(files['go.mod'] ?? '');
    if (line?.[1]) {
      const asked = line[1];
      const source = `go.mod "go ${asked}"`;
      if (compareVersions(asked, catalog.default) > 0 && !samePrefix(asked, catalog.default))
        throw new RuntimeVersionError(`${source} needs Go ${asked} or newer: ${has(catalog)}`);
      return { version: catalog.default, reason: `from ${source}` };
    }
  } else if (runtime === 'rust') {
    // `rust-version` is the least rustc the package needs, as go.mod's `go` line is for Go.
    const line = /^\s*rust-version\s*=\s*"(\d+(?:\.\d+)*)"/m.exec(files['Cargo.toml'] ?? '');
    if (line?.[1]) {
      const asked = line[1];
      const source = `rust-version "${asked}" in Cargo.toml`;
      if (compareVersions(asked, catalog.exact[catalog.default] ?? catalog.default) > 0)
        throw new RuntimeVersionError(`${source} needs Rust ${asked} or newer: ${has(catalog)}`);
      return { version: catalog.default, reason: `from ${source}` };
    }
  }
  if (!wanted) return { version: catalog.default, reason: `Debian's, the one this platform has` };
  return single(catalog, wanted.asked, wanted.source);
}

/** Numeric comparison of dotted versions ("1.21" > "1.19"). */
function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** The job log's words: `Node 22 (from engines.node "22.x" in package.json)`. */
export function describeChoice(catalog: RuntimeVersions, choice: VersionChoice): string {
  return `${catalog.label} ${choice.version} (${choice.reason})`;
}
