import fs from 'node:fs/promises';
import path from 'node:path';
import { conventionFiles, type ConventionFile, type RepoListing } from './conventions.ts';

/** Directories whose contents never decide a convention and may be huge (vendored dependencies). */
const unlisted = new Set(['node_modules', 'vendor', '.git']);
/** Bounds on what a repository can make the worker read. */
const maxEntriesPerDir = 1000;
const maxFileBytes = 256 * 1024;

async function entriesOf(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries.slice(0, maxEntriesPerDir).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
}

/**
 * What `planConventions` needs from a fresh clone: the top level and one level below, and the
 * few files it reads (each at most 256 KiB; a larger one is read as its first 256 KiB, which
 * fails JSON parsing loudly rather than being skipped silently). Symbolic links are listed but
 * never followed, so a repository cannot point the worker at files outside it.
 */
export async function readRepoListing(dir: string): Promise<RepoListing> {
  const top = await entriesOf(dir);
  const below = await Promise.all(
    top
      .filter((e) => e.endsWith('/') && !unlisted.has(e.slice(0, -1)))
      .map(async (sub) => (await entriesOf(path.join(dir, sub))).map((e) => `${sub}${e}`)),
  );
  const contents: Partial<Record<ConventionFile, string>> = {};
  for (const name of conventionFiles) {
    if (!top.includes(name)) continue;
    const file = path.join(dir, name);
    if (!(await fs.lstat(file)).isFile()) continue;
    const handle = await fs.open(file, 'r');
    try {
      const buffer = Buffer.alloc(maxFileBytes);
      const { bytesRead } = await handle.read(buffer, 0, maxFileBytes, 0);
      contents[name] = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  }
  return { entries: [...top, ...below.flat()], contents };
}
