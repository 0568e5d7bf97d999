/**
 * What the Rust conventions need from a Cargo project: the binary `cargo build --release` makes
 * (from Cargo.toml, read without a TOML library: only table headers and `name`/`default-run`
 * keys matter), and the words that explain a build that wanted crates.io. Pure, table-tested in
 * test/workers/apps/cargo.unit.test.ts.
 */

/** The default Rust build: offline, as this platform reaches no registry (docs/guides/runtimes.md). */
export const cargoBuild = 'cargo build --release --offline';

/** The binary a Cargo.toml builds, or why none can be chosen. */
export type CargoBinary = { name: string; reason: string } | { problem: string };

/** A string value of `key = "…"` (or '…') on one line; undefined for anything else. */
function stringValue(line: string, key: string): string | undefined {
  const match = new RegExp(`^\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|'([^']*)')\\s*(?:#.*)?$`).exec(line);
  return match ? (match[1] ?? match[2]) : undefined;
}

/**
 * Cargo's rule for the binary a plain `cargo run` starts: the `[[bin]]` target when there is one;
 * among several, `[package] default-run`; with no `[[bin]]`, the package's own name (its
 * src/main.rs). A workspace root without a package names no binary.
 */
export function cargoBinary(manifest: string): CargoBinary {
  let table = '';
  let packageName: string | undefined;
  let defaultRun: string | undefined;
  const bins: (string | undefined)[] = [];
  for (const raw of manifest.split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(?:#.*)?$/.exec(line);
    if (header) {
      table = line.startsWith('[[') ? `[[${header[1]}]]` : header[1]!;
      if (table === '[[bin]]') bins.push(undefined);
      continue;
    }
    const name = stringValue(line, 'name');
    if (table === 'package' && name !== undefined) packageName = name;
    else if (table === '[[bin]]' && name !== undefined) bins[bins.length - 1] = name;
    const run = stringValue(line, 'default-run');
    if (table === 'package' && run !== undefined) defaultRun = run;
  }
  const named = bins.filter((b): b is string => b !== undefined);
  if (named.length === 1 && bins.length === 1) return { name: named[0]!, reason: 'the [[bin]] of Cargo.toml' };
  if (bins.length > 1) {
    if (defaultRun && named.includes(defaultRun)) return { name: defaultRun, reason: 'default-run in Cargo.toml' };
    return {
      problem: `Cargo.toml has ${bins.length} [[bin]] targets (${named.join(', ')}) and no default-run naming one of them`,
    };
  }
  if (packageName) return { name: packageName, reason: '[package] name in Cargo.toml' };
  return { problem: 'Cargo.toml names no [package] (a workspace root?) and no [[bin]]' };
}

/**
 * The sentence added to a failed Rust build whose output shows cargo wanted a registry: the
 * platform builds offline, so the crate has to be vendored. Undefined for any other failure.
 */
export function cargoOfflineHint(command: string, output: readonly string[]): string | undefined {
  if (!/\bcargo\b/.test(command)) return undefined;
  const text = output.join('\n');
  const wantedRegistry =
    /offline mode|--offline|crates\.io|no matching package named|failed to (?:load source for|get) .*dependenc|failed to download|Unable to update registry/i.test(
      text,
    );
  if (!wantedRegistry) return undefined;
  return (
    'Rust apps are built offline here (crates.io is not reachable): only crates that need no registry build, ' +
    'std-only or with their dependencies vendored (`cargo vendor`, committed with the .cargo/config.toml it prints)'
  );
}
