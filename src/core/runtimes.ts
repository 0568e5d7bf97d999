/**
 * The runtimes an app may ask for. An entry says what every container of that runtime needs;
 * what a repository needs to be built and run when the app does not say is decided from its
 * files by `planConventions` (src/workers/apps/conventions.ts). The image comes from configuration
 * (`<prefix>/<runtime>:latest` by default, or an official image named in GASPER_RUNTIME_IMAGES).
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
}

export const runtimes: Readonly<Record<string, Runtime>> = Object.freeze({
  node: { defaultPort: 8080, env: {} },
  // `pip install --user` goes to /app/.local, and python3 puts its user site-packages on sys.path.
  python: { defaultPort: 8080, env: { PYTHONUSERBASE: '/app/.local' } },
  static: { defaultPort: 8080, env: {} },
  php: { defaultPort: 8080, env: {} },
  // Gems go to /app/vendor/bundle; `bundle exec` finds them there at run time through the same env.
  ruby: { defaultPort: 8080, env: { BUNDLE_PATH: '/app/vendor/bundle', BUNDLE_WITHOUT: 'development:test' } },
  go: { defaultPort: 8080, env: {} },
});

export const runtimeNames = Object.keys(runtimes);

export function runtimeImage(
  runtime: string,
  options: { imagePrefix: string; runtimeImages: Record<string, string> },
): string {
  return options.runtimeImages[runtime] ?? `${options.imagePrefix}/${runtime}:latest`;
}
