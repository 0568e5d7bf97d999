import { runtimeCatalog } from './runtime-catalog.ts';

/**
 * The runtimes an app may ask for. An entry says what every container of that runtime needs;
 * what a repository needs to be built and run when the app does not say is decided from its
 * files by `planConventions` (src/workers/apps/conventions.ts), and its version by
 * `chooseRuntimeVersion` (runtime-versions.ts). The image comes from configuration: see `runtimeImage`.
 */

export interface Runtime {
  /** Port the app listens on when the request names none. */
  defaultPort: number;
  /**
   * Env set in build and app containers, below the app's own env (which may override it). It
   * makes what the default build installs under /app visible to the app, whatever its run
   * command: the release directory is the one place both containers share.
   */
  env: Readonly<Record<string, string>>;
  /** One image per version (`<prefix>/node:22`) rather than one image (`<prefix>/python:latest`). */
  imagePerVersion?: boolean;
}

export const runtimes: Readonly<Record<string, Runtime>> = Object.freeze({
  // corepack (pnpm: workers/apps/node-installs.ts) runs the pnpm the repository pins, else the
  // one its own release knows (not the registry's newest, which would change under a redeploy),
  // without asking whether to download it.
  node: {
    defaultPort: 8080,
    env: { COREPACK_DEFAULT_TO_LATEST: '0', COREPACK_ENABLE_DOWNLOAD_PROMPT: '0' },
    imagePerVersion: true,
  },
  // `pip install --user` goes to /app/.local, and python3 puts its user site-packages on sys.path.
  python: { defaultPort: 8080, env: { PYTHONUSERBASE: '/app/.local' } },
  static: { defaultPort: 8080, env: {} },
  php: { defaultPort: 8080, env: {} },
  // Gems go to /app/vendor/bundle; `bundle exec` finds them there at run time through the same env.
  ruby: { defaultPort: 8080, env: { BUNDLE_PATH: '/app/vendor/bundle', BUNDLE_WITHOUT: 'development:test' } },
  go: { defaultPort: 8080, env: {} },
  // Offline whatever the build command: crates.io is out of reach (docs/guides/runtimes.md).
  rust: { defaultPort: 8080, env: { CARGO_NET_OFFLINE: 'true' } },
});

export const runtimeNames = Object.keys(runtimes);

/**
 * The image of `runtime` at `version` (default: the runtime's default version). A runtime with
 * an image per version: GASPER_RUNTIME_IMAGES's `node:22` entry, else (for the default version
 * only) its `node` entry, else `<prefix>/node:22`. Where an image registry answers, an operator
 * maps the versions to the official images (`node:22=node:22-bookworm-slim`). Other runtimes:
 * their entry, else `<prefix>/<runtime>:latest`.
 */
export function runtimeImage(
  runtime: string,
  options: { imagePrefix: string; runtimeImages: Record<string, string> },
  version?: string,
): string {
  const catalog = runtimeCatalog[runtime];
  if (!runtimes[runtime]?.imagePerVersion || !catalog)
    return options.runtimeImages[runtime] ?? `${options.imagePrefix}/${runtime}:latest`;
  const wanted = version ?? catalog.default;
  return (
    options.runtimeImages[`${runtime}:${wanted}`] ??
    (wanted === catalog.default ? options.runtimeImages[runtime] : undefined) ??
    `${options.imagePrefix}/${runtime}:${wanted}`
  );
}
