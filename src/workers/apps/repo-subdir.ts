import fs from 'node:fs/promises';
import path from 'node:path';
import { ConventionError } from './conventions.ts';

/**
 * Why the path `sub` (relative, validated by the API: no `..`, not absolute) cannot be used as a
 * `kind` inside `dir`, or undefined when it is a real one there. Every component is checked with
 * lstat: a symlink, even one that points inside, is refused (a repository could commit
 * `ctx -> ../../..` and have the node's state directory packed or moved), and the real path must
 * lie inside the real `dir`.
 */
export async function realPathProblem(
  dir: string,
  sub: string,
  kind: 'directory' | 'file',
): Promise<'missing' | 'symlink' | 'outside' | undefined> {
  const parts = sub.split('/').filter((p) => p !== '' && p !== '.');
  let at = dir;
  for (const [i, part] of parts.entries()) {
    at = path.join(at, part);
    const stat = await fs.lstat(at).catch(() => undefined);
    if (!stat) return 'missing';
    if (stat.isSymbolicLink()) return 'symlink';
    const last = i === parts.length - 1;
    if (!last && !stat.isDirectory()) return 'missing';
    if (last && (kind === 'directory' ? !stat.isDirectory() : !stat.isFile())) return 'missing';
  }
  if (parts.length === 0 && kind === 'file') return 'missing';
  const root = await fs.realpath(dir);
  const real = await fs.realpath(at);
  if (real !== root && !real.startsWith(`${root}${path.sep}`)) return 'outside';
  return undefined;
}

/**
 * Makes `dir` (a fresh clone) hold only its folder `sub` (`repo.path`, validated by the API):
 * the release directory is what the build and the app see as /app, so that folder becomes /app.
 * The folder must be a real directory inside the clone: a symlink could point anywhere on the node.
 */
export async function narrowToSubdir(dir: string, sub: string): Promise<void> {
  const missing = `repo.path "${sub}" is not a folder of the repository at this commit`;
  const problem = await realPathProblem(dir, sub, 'directory');
  if (problem === 'symlink') throw new ConventionError(`${missing} (it is or goes through a symlink)`);
  if (problem === 'outside') throw new ConventionError(`${missing} (it leads outside)`);
  if (problem || path.normalize(sub) === '.') throw new ConventionError(missing);
  const inside = path.join(dir, sub);
  const kept = `${dir}.subdir`;
  await fs.rm(kept, { recursive: true, force: true });
  await fs.rename(inside, kept);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rename(kept, dir);
}
