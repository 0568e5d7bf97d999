import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * A source file newer than the build marked by `built` (dist/cli.js), if any: the checkout changed
 * since `npm run build`, and the compiled services would run the old code. Undefined when the
 * build is current, or when there are no sources beside it (a package of dist/ alone).
 */
export async function newerSource(built: string, sources: string): Promise<string | undefined> {
  const builtAt = (await fs.stat(built)).mtimeMs;
  const entries = await fs.readdir(sources, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    if ((await fs.stat(file)).mtimeMs > builtAt) return file;
  }
  return undefined;
}
