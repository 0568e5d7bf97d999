import path from 'node:path/posix';
import { ConventionError } from './conventions.ts';

/**
 * Which builder makes a release's image: the repository's Dockerfile (`docker build`), or the
 * runtime's image with build commands run in it (build.ts). Pure: it sees the app's settings and
 * whether the Dockerfile exists, so every case is a line in a unit-test table.
 */

export const builders = ['auto', 'dockerfile', 'runtime'] as const;
/** The port of a Dockerfile app that names none and whose image exposes none. */
export const defaultDockerfilePort = 8080;
export type Builder = (typeof builders)[number];

export interface DockerfileSettings {
  /** The Dockerfile, relative to the repository root; default `Dockerfile` in the context. */
  path?: string;
  /** The build context, relative to the repository root; default the root. */
  context?: string;
}

export type BuilderChoice =
  | { builder: 'dockerfile'; dockerfile: string; context: string; reason: string }
  | { builder: 'runtime'; runtime: string; reason: string };

/** Why a repository path the app gives cannot be used, or undefined. Paths stay inside the repository. */
export function repoPathProblem(value: string): string | undefined {
  if (value.length === 0 || value.length > 1024) return 'a path of 1 to 1024 characters';
  if (value.includes('\\') || value.includes('\0')) return 'a path with / separators and no NUL';
  if (value.startsWith('/')) return 'a path relative to the repository root, not an absolute one';
  if (value.split('/').includes('..')) return 'a path inside the repository: `..` is not allowed';
  return undefined;
}

/** The Dockerfile and context as paths relative to the repository root (`.` is the root). */
export function dockerfilePaths(settings: DockerfileSettings = {}): { dockerfile: string; context: string } {
  const context = path.normalize(settings.context ?? '.').replace(/\/$/, '') || '.';
  const dockerfile = path.normalize(settings.path ?? path.join(context, 'Dockerfile'));
  return { dockerfile, context };
}

/** The Dockerfile's path inside the context (what `docker build -f` wants), or undefined when outside it. */
export function dockerfileInContext(dockerfile: string, context: string): string | undefined {
  const relative = path.relative(context === '.' ? '' : context, dockerfile);
  return relative.startsWith('..') || relative === '' ? undefined : relative;
}

/**
 * Files that say which runtime a repository is for, as a buildpack would detect it; the first
 * found is suggested when the app names no runtime (Gasper does not guess: the runtime is the
 * app's, chosen when it is created).
 */
const runtimeMarkers: ReadonlyArray<readonly [file: string, runtime: string]> = [
  ['package.json', 'node'],
  ['requirements.txt', 'python'],
  ['pyproject.toml', 'python'],
  ['Pipfile', 'python'],
  ['Gemfile', 'ruby'],
  ['composer.json', 'php'],
  ['index.php', 'php'],
  ['go.mod', 'go'],
  ['Cargo.toml', 'rust'],
  ['index.html', 'static'],
];

/** The runtime a repository's files suggest, and the file that says so. */
export function suggestedRuntime(exists: (path: string) => boolean): { runtime: string; file: string } | undefined {
  const found = runtimeMarkers.find(([file]) => exists(file));
  return found && { file: found[0], runtime: found[1] };
}

/**
 * The message for an app that gives no runtime and whose repository has no Dockerfile: the
 * runtime its files suggest, and how to give it one (a PATCH redeploys it).
 */
export function neitherMessage(
  app: string,
  dockerfile: string,
  exists: (path: string) => boolean = () => false,
): string {
  const hint = suggestedRuntime(exists);
  const runtime = hint
    ? `, or give the app runtime "${hint.runtime}" as its ${hint.file} suggests (PATCH /apps/${app} {"runtime": "${hint.runtime}"}, or \`gasper apps update ${app} --runtime ${hint.runtime}\`), which deploys it again`
    : `, or give the app a runtime (PATCH /apps/${app} {"runtime": …}, or \`gasper apps update ${app} --runtime <runtime>\`)`;
  return `runtime: the app names no runtime and the repository has no ${dockerfile}: either add a Dockerfile (or set builder "dockerfile" with dockerfile.path)${runtime}`;
}

/**
 * The builder of a release. `exists` says whether a path (relative to the repository root) is a
 * file in the clone. Throws ConventionError (a user error) when neither builder can be used.
 */
export function chooseBuilder(
  app: { name: string; builder?: Builder; dockerfile?: DockerfileSettings; runtime?: string },
  exists: (path: string) => boolean,
): BuilderChoice {
  const builder = app.builder ?? 'auto';
  const { dockerfile, context } = dockerfilePaths(app.dockerfile);
  const where = dockerfile === 'Dockerfile' ? 'at the repository root' : `at ${dockerfile}`;
  if (builder === 'runtime') {
    if (!app.runtime) throw new ConventionError(neitherMessage(app.name, dockerfile, exists));
    return { builder: 'runtime', runtime: app.runtime, reason: 'the app asks for builder "runtime"' };
  }
  if (dockerfileInContext(dockerfile, context) === undefined)
    throw new ConventionError(`dockerfile.path: ${dockerfile} is not inside the build context ${context}`);
  if (exists(dockerfile)) {
    const why =
      builder === 'dockerfile'
        ? `the app asks for builder "dockerfile"; Dockerfile ${where}`
        : `Dockerfile found ${where}`;
    return {
      builder: 'dockerfile',
      dockerfile,
      context,
      reason: context === '.' ? why : `${why}, context ${context}/`,
    };
  }
  if (builder === 'dockerfile') throw new ConventionError(`builder "dockerfile": the repository has no ${dockerfile}`);
  if (!app.runtime) throw new ConventionError(neitherMessage(app.name, dockerfile, exists));
  return { builder: 'runtime', runtime: app.runtime, reason: `no Dockerfile ${where}: runtime ${app.runtime}` };
}

/**
 * The port of an image built from a Dockerfile when the app names none: its lowest exposed TCP
 * port (Docker keeps EXPOSE as a map, so the Dockerfile's order is lost), else `fallback`.
 */
export function imagePort(exposed: Record<string, unknown> | null | undefined, fallback: number): number {
  const ports = Object.keys(exposed ?? {})
    .map((key) => /^(\d+)(?:\/tcp)?$/.exec(key))
    .flatMap((m) => (m ? [Number(m[1])] : []))
    .filter((p) => p >= 1 && p <= 65535)
    .sort((a, b) => a - b);
  return ports[0] ?? fallback;
}

/** The build args: only the env variables the app names, those that are set. */
export function buildArgsOf(names: readonly string[] | undefined, env: Record<string, string>): Record<string, string> {
  return Object.fromEntries((names ?? []).filter((n) => Object.hasOwn(env, n)).map((n) => [n, env[n]!]));
}

/**
 * The tag of a release's image: `<prefix>-app/<installation>-<app>:<release>`. The installation
 * is in the name because two installations may share a daemon and an app name.
 */
export function appImageTag(prefix: string, installation: string, app: string, release: string): string {
  return `${appImageRepository(prefix, installation, app)}:${release}`;
}

/** The repository of an app's images; every app's starts with `<prefix>-app/`. */
export function appImageRepository(prefix: string, installation: string, app: string): string {
  return `${prefix}-app/${installation}-${app}`;
}
