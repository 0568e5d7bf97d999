import { cargoBinary, cargoBuild } from './cargo.ts';

/**
 * Conventions: how a repository is built and run when the app does not say. Pure: it sees only
 * the listing and the few files it is handed (see `readRepoListing` for the I/O side), so every
 * layout → commands rule is a line in a unit-test table.
 *
 * `run` omitted: the Procfile's `web:` process, else the runtime's default for the layout.
 * `build` omitted: install dependencies the usual way for the runtime (none when there are none).
 * An app that gives `build` or `run` (even `build: []`) gets exactly that.
 */

import { notProcessTypes, processNamePattern, webProcess } from '../../core/formation.ts';
import { ConventionError } from './convention-error.ts';
import { type NodePackageJson, nodeInstall } from './node-installs.ts';

/** What conventions look at in a fresh clone. */
export interface RepoListing {
  /**
   * Paths relative to the repository root: the top level and one level below, directories
   * ending in `/` (`package.json`, `public/`, `public/index.php`).
   */
  entries: readonly string[];
  /** Contents of the files in `conventionFiles` that exist. */
  contents: Readonly<Partial<Record<ConventionFile, string>>>;
}

/** The only files whose contents conventions read (app.json: its own parser, app-json.ts). */
export const conventionFiles = ['Procfile', 'package.json', 'app.json', 'Cargo.toml'] as const;
export type ConventionFile = (typeof conventionFiles)[number];

export interface ConventionPlan {
  /** Build commands, run in order in /app; `reason` says where they come from, for the job log. */
  build: { commands: string[]; reason: string };
  /** The web process's command; empty when the release has no web process (see `processes`). */
  run: { command: string; reason: string };
  /**
   * The release's process types and their commands (core/formation.ts): `web` (the run command)
   * unless a Procfile declares types but no `web`, and the Procfile's other types (not `release`,
   * which is the release phase).
   */
  processes: Record<string, string>;
}

export { ConventionError } from './convention-error.ts';

/** Name of the binary the default Go build makes in /app, and the default Go run starts. */
export const goBinary = 'gasper-app';

// Default flags on purpose: Debian's Go ships the standard library compiled for them, so a
// build takes seconds; CGO_ENABLED=0 or -trimpath would recompile it on every deploy (a minute).
const goBuild = `go build -o ${goBinary} .`;

interface Layout {
  has(path: string): boolean;
  listing: RepoListing;
}

interface RuntimeConventions {
  build(layout: Layout): { commands: string[]; reason: string };
  run(layout: Layout): { command: string; reason: string } | undefined;
  /** What to add to the repository when `run` finds nothing, for the error message. */
  runHint?: string;
}

/** The static runtime's document roots, the first found wins (gasper-static accepts exactly these). */
export const staticDocroots = ['public', 'dist', 'build', '_site'] as const;

const none = (reason: string) => ({ commands: [] as string[], reason });

interface PackageJson extends NodePackageJson {
  main?: unknown;
}

function packageJson(layout: Layout): PackageJson | undefined {
  const text = layout.listing.contents['package.json'];
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as PackageJson;
  } catch {
    // reported below
  }
  throw new ConventionError('package.json is not a JSON object, so its dependencies and scripts cannot be read');
}

const hasScript = (pkg: PackageJson, name: string) => typeof pkg.scripts?.[name] === 'string';
/**
 * The start script itself when it is `node` with plain arguments and no `prestart`/`poststart`
 * hook: npm adds about half a second of CPU to every start (each instance, restart, deploy and
 * crash restart) for nothing such a script needs. What is lost: the `npm_package_*` and
 * `npm_lifecycle_*` variables npm sets; an app that reads them sets `run: "npm start"`.
 */
function directStart(pkg: PackageJson): string | undefined {
  const start = pkg.scripts?.start;
  if (typeof start !== 'string' || hasScript(pkg, 'prestart') || hasScript(pkg, 'poststart')) return undefined;
  return /^node( +[\w./=:@+-]+)+$/.test(start.trim()) ? start.trim().replace(/ +/g, ' ') : undefined;
}

/** The command for the first of `files` that exists. */
function firstFile(
  layout: Layout,
  files: string[],
  command: (file: string) => string,
): { command: string; reason: string } | undefined {
  const file = files.find((f) => layout.has(f));
  return file ? { command: command(file), reason: `${file} found` } : undefined;
}

const conventions: Record<string, RuntimeConventions> = {
  node: {
    build(layout) {
      const pkg = packageJson(layout);
      if (!pkg) return none('no package.json');
      const commands: string[] = [];
      const reasons: string[] = [];
      const install = nodeInstall((p) => layout.has(p), pkg);
      if (install.install) {
        commands.push(install.install);
        reasons.push(install.reason);
      }
      if (hasScript(pkg, 'build')) {
        commands.push('npm run build');
        reasons.push('package.json has a build script');
      }
      return commands.length
        ? { commands, reason: reasons.join('; ') }
        : none('package.json has no dependencies and no build script');
    },
    run(layout) {
      const pkg = packageJson(layout);
      const direct = pkg && directStart(pkg);
      if (direct) return { command: direct, reason: 'the start script of package.json, run without npm' };
      if (pkg && hasScript(pkg, 'start')) return { command: 'npm start', reason: 'package.json has a start script' };
      if (pkg && typeof pkg.main === 'string') {
        const main = pkg.main.replace(/^\.\//, '');
        if (layout.has(main) || layout.has(`${main}.js`))
          return { command: `node ${shellWord(main)}`, reason: 'package.json "main"' };
      }
      return firstFile(layout, ['server.js', 'index.js', 'app.js', 'main.js'], (f) => `node ${f}`);
    },
    runHint: 'a start script in package.json, or server.js / index.js',
  },

  python: {
    build: (layout) =>
      layout.has('requirements.txt')
        ? {
            commands: ['pip install --user --no-cache-dir --no-warn-script-location -r requirements.txt'],
            reason: 'requirements.txt',
          }
        : none('no requirements.txt'),
    run(layout) {
      const script = firstFile(layout, ['app.py', 'main.py', 'server.py'], (f) => `python3 ${f}`);
      if (script) return script;
      // A single top-level package that can run as a module (`<pkg>/__main__.py`).
      const packages = layout.listing.entries
        .filter((e) => /^[A-Za-z_][A-Za-z0-9_]*\/__main__\.py$/.test(e))
        .map((e) => e.slice(0, e.indexOf('/')));
      if (packages.length === 1)
        return { command: `python3 -m ${packages[0]}`, reason: `${packages[0]}/__main__.py found` };
      return undefined;
    },
    runHint: 'app.py, main.py or server.py, or one package with a __main__.py',
  },

  php: {
    build: (layout) =>
      layout.has('composer.json')
        ? {
            commands: ['composer install --no-dev --no-interaction --no-progress --prefer-dist --optimize-autoloader'],
            reason: 'composer.json',
          }
        : none('no composer.json'),
    run: (layout) =>
      layout.has('public/')
        ? { command: 'php -S "0.0.0.0:$PORT" -t public', reason: 'public/ found: the document root' }
        : { command: 'php -S "0.0.0.0:$PORT" -t .', reason: 'no public/: the repository is the document root' },
  },

  ruby: {
    build: (layout) =>
      layout.has('Gemfile')
        ? { commands: ['bundle install --jobs 4'], reason: 'Gemfile (gems into /app/vendor/bundle)' }
        : none('no Gemfile'),
    run(layout) {
      const bundle = layout.has('Gemfile') ? 'bundle exec ' : '';
      if (layout.has('config.ru'))
        return { command: `${bundle}rackup -p "$PORT" -o 0.0.0.0`, reason: 'config.ru found' };
      return firstFile(layout, ['app.rb', 'server.rb', 'main.rb'], (f) => `${bundle}ruby ${f}`);
    },
    runHint: 'config.ru, or app.rb',
  },

  go: {
    build(layout) {
      if (layout.has('go.mod')) return { commands: [goBuild], reason: 'go.mod' };
      // No module: GOPATH mode builds a main package that imports only the standard library.
      if (hasGoSources(layout)) return { commands: [`GO111MODULE=off ${goBuild}`], reason: '.go files without go.mod' };
      return none('no go.mod and no .go files');
    },
    run: (layout) =>
      layout.has('go.mod') || hasGoSources(layout)
        ? { command: `./${goBinary}`, reason: 'the binary the default build makes' }
        : undefined,
    runHint: 'a main package (go.mod, or .go files) at the top level',
  },

  rust: {
    build: (layout) =>
      layout.has('Cargo.toml')
        ? { commands: [cargoBuild], reason: 'Cargo.toml (offline: no registry is reached)' }
        : none('no Cargo.toml'),
    run(layout) {
      const manifest = layout.listing.contents['Cargo.toml'];
      if (manifest === undefined) return undefined;
      const binary = cargoBinary(manifest);
      if ('problem' in binary)
        throw new ConventionError(`no run command: ${binary.problem}; name the binary in a Procfile (web: …)`);
      return { command: `./target/release/${shellWord(binary.name)}`, reason: binary.reason };
    },
    runHint: 'a Cargo.toml with a [package] or one [[bin]]',
  },

  static: {
    build: () => none('static files are served as they are'),
    // gasper-static (docker/runtimes/static) serves no dotfiles, and from the repository root no
    // manifests or build files either; a site's usual output directory is its document root.
    run(layout) {
      const docroot = staticDocroots.find((dir) => layout.has(`${dir}/`));
      return docroot
        ? { command: `gasper-static ${docroot}`, reason: `static: serving ${docroot}/` }
        : {
            command: 'gasper-static .',
            reason: `static: serving the repository root (no ${staticDocroots.map((d) => `${d}/`).join(', ')})`,
          };
    },
  },
};

function hasGoSources(layout: Layout): boolean {
  return layout.listing.entries.some((e) => !e.includes('/') && e.endsWith('.go') && !e.endsWith('_test.go'));
}

/** Quotes a path for `sh` when it needs it. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Heroku's Procfile format: `name: command` lines; blank lines and `#` comments are ignored.
 * Returns the processes by name (the last of a repeated name wins, as in foreman).
 */
export function parseProcfile(text: string): Record<string, string> {
  const processes: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    // A `#` cannot start a process name, so comment lines never match.
    const match = /^\s*([A-Za-z0-9_-]+)\s*:\s*(.*\S)\s*$/.exec(raw);
    if (match) processes[match[1]!] = match[2]!;
  }
  return processes;
}

/** The build and run commands of a release: the app's own where given, else the conventions'. */
export function planConventions(
  runtime: string,
  listing: RepoListing,
  given: { build?: string[]; run?: string },
  /** The app's name, for the command an error suggests. */
  app = '<app>',
): ConventionPlan {
  const rules = conventions[runtime];
  if (!rules) throw new ConventionError(`no conventions for runtime ${runtime}`);
  const entries = new Set(listing.entries);
  const layout: Layout = { has: (p) => entries.has(p), listing };

  const build = given.build ? { commands: given.build, reason: 'given by the app' } : rules.build(layout);
  const others = procfileProcesses(listing.contents.Procfile);
  const withWeb = (run: { command: string; reason: string }) => ({
    build,
    run,
    processes: { ...others, web: run.command },
  });
  if (given.run) return withWeb({ command: given.run, reason: 'given by the app' });

  const web = listing.contents.Procfile !== undefined ? parseProcfile(listing.contents.Procfile).web : undefined;
  if (web) return withWeb({ command: web, reason: 'Procfile web process' });
  // A Procfile is the list of the process types: one with a worker and no web has no web process
  // (no HTTP wait, the proxy answers 503 "no web process"), even if the runtime could start something.
  if (Object.keys(others).length > 0)
    return { build, run: { command: '', reason: 'the Procfile declares no web process' }, processes: others };
  const run = rules.run(layout);
  if (!run) {
    throw new ConventionError(
      `no run command: the app gives none, there is no Procfile with a web: process, and the ${runtime} ` +
        `conventions found nothing to run (they look for ${rules.runHint}): give the app its command ` +
        `(gasper apps update ${app} --run '<command>', or PATCH /apps/${app} {"run": …}), or add a Procfile ` +
        "with a 'web: <command>' line",
    );
  }
  return withWeb(run);
}

/**
 * The Procfile's process types other than `web` and `release` (and names a container cannot
 * carry), with their commands; none without a Procfile.
 */
export function procfileProcesses(procfile: string | undefined): Record<string, string> {
  if (procfile === undefined) return {};
  return Object.fromEntries(
    Object.entries(parseProcfile(procfile)).filter(
      ([name]) => name !== webProcess && !notProcessTypes.has(name) && processNamePattern.test(name),
    ),
  );
}
