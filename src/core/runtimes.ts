/**
 * The runtimes an app may ask for. An entry says what a plain repository of that kind needs;
 * the image comes from configuration (`<prefix>/<runtime>:latest` by default, or an official
 * image named in GASPER_RUNTIME_IMAGES).
 */
export interface Runtime {
  /** Run command when the app gives none. `$PORT` is set in the container. */
  defaultRun: string;
  /** Port the app listens on when the request names none. */
  defaultPort: number;
}

export const runtimes: Readonly<Record<string, Runtime>> = Object.freeze({
  node: { defaultRun: 'npm start', defaultPort: 8080 },
  python: { defaultRun: 'python3 app.py', defaultPort: 8080 },
  static: { defaultRun: 'busybox httpd -f -v -p "$PORT" -h /app', defaultPort: 8080 },
});

export const runtimeNames = Object.keys(runtimes);

export function runtimeImage(
  runtime: string,
  options: { imagePrefix: string; runtimeImages: Record<string, string> },
): string {
  return options.runtimeImages[runtime] ?? `${options.imagePrefix}/${runtime}:latest`;
}
