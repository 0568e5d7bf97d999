import fs from 'node:fs/promises';
import path from 'node:path';
import { ConventionError } from './conventions.ts';

/**
 * Makes `dir` (a fresh clone) hold only its folder `sub` (`repo.path`, validated by the API):
 * the release directory is what the build and the app see as /app, so that folder becomes /app.
 * The folder must be a real directory inside the clone: a symlink could point anywhere on the node.
 */
export async function narrowToSubdir(dir: string, sub: string): Promise<void> {
  const inside = path.join(dir, sub);
  const missing = `repo.path "${sub}" is not a folder of the repository at this commit`;
  const stat = await fs.lstat(inside).catch(() => undefined);
  if (!stat?.isDirectory())
    throw new ConventionError(stat?.isSymbolicLink() ? `${missing} (it is a symlink)` : missing);
  const real = await fs.realpath(inside);
  if (!real.startsWith(`${await fs.realpath(dir)}${path.sep}`))
    throw new ConventionError(`${missing} (it leads outside)`);
  const kept = `${dir}.subdir`;
  await fs.rm(kept, { recursive: true, force: true });
  await fs.rename(inside, kept);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rename(kept, dir);
}
