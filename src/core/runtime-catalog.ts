import { readFileSync } from 'node:fs';
import type { RuntimeCatalog, RuntimeVersions } from './runtime-versions.ts';

/**
 * The versions the runtime images carry. Node's come from docker/runtimes/node/versions, the one
 * place its exact versions are written (build-images.sh builds the images from the same file);
 * the others are Debian bookworm's (one version each, what `apt-get install` gives the images).
 */

/** Parses docker/runtimes/node/versions: `<major> <node> <npm>` rows and a `default <major>` row. */
export function parseNodeVersions(text: string): RuntimeVersions {
  const exact: Record<string, string> = {};
  let fallback: string | undefined;
  for (const line of text.split('\n')) {
    const [first, second] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!first || !second) continue;
    if (first === 'default') fallback = second;
    else exact[first] = second;
  }
  const versions = Object.keys(exact).sort((a, b) => Number(a) - Number(b));
  if (!fallback || !exact[fallback]) throw new Error(`the node versions file names no default among ${versions}`);
  return { label: 'Node', versions, exact, default: fallback };
}

const nodeVersionsFile = new URL('../../docker/runtimes/node/versions', import.meta.url);

const debian = (label: string, version: string, exact: string): RuntimeVersions => ({
  label,
  versions: [version],
  exact: { [version]: exact },
  default: version,
});

export const runtimeCatalog: RuntimeCatalog = Object.freeze({
  node: parseNodeVersions(readFileSync(nodeVersionsFile, 'utf8')),
  python: debian('Python', '3.11', '3.11.2'),
  ruby: debian('Ruby', '3.1', '3.1.2'),
  php: debian('PHP', '8.2', '8.2'),
  go: debian('Go', '1.19', '1.19.8'),
  rust: debian('Rust', '1.63', '1.63.0'),
});
