import fs from 'node:fs/promises';
import path from 'node:path';
import { appUser } from '../../core/app-user.ts';
import { diskUsage } from '../node/disk-watchdog.ts';
import { buildCacheFolder, goCacheMount, planGoCache, staleCacheDirs } from './go-cache-plan.ts';

export interface PreparedGoCache {
  /** The host directory to mount at goCacheMount in the build container. */
  dir: string;
  /** `host:container` for the build container's Binds. */
  bind: string;
  /** What the job log says about it. */
  line: string;
}

/** The app incarnation's Go cache directory on this node (go-cache-plan.ts). */
export function goCacheDir(appDir: string, uid: string): string {
  return path.join(appDir, buildCacheFolder, uid, 'go');
}

/** Files and folders directly under GOCACHE and GOMODCACHE: none before the first build. */
async function countEntries(dir: string): Promise<number> {
  let count = 0;
  for (const sub of ['build', 'mod'])
    count += (await fs.readdir(path.join(dir, sub)).catch(() => [] as string[])).length;
  return count;
}

/**
 * Before a Go build: removes the caches of other incarnations of the app's name, empties this
 * one's when the rebuild asked for `cache: false`, and makes sure the directory exists, owned by
 * the build's user (when the worker runs as root, as it hands release directories over). Safe to
 * repeat. The directory is under the app's directory, outside `releases/`: GET /nodes counts it
 * under `cachesBytes` (workers/node/disk-use.ts), and deleting the app removes it.
 */
export async function prepareGoCache(input: { appDir: string; uid: string; cache: boolean }): Promise<PreparedGoCache> {
  const root = path.join(input.appDir, buildCacheFolder);
  await fs.mkdir(root, { recursive: true });
  for (const stale of staleCacheDirs(await fs.readdir(root), input.uid))
    await fs.rm(path.join(root, stale), { recursive: true, force: true });
  const dir = goCacheDir(input.appDir, input.uid);
  const entries = await countEntries(dir);
  const bytes = entries ? await diskUsage(dir) : 0;
  const plan = planGoCache({ cache: input.cache, bytes: Number.isFinite(bytes) ? bytes : 0, entries });
  if (plan.empty) await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (process.getuid?.() === 0) {
    // Only the incarnation's folder: the build user must not create siblings another uid could find.
    await fs.chown(path.dirname(dir), 0, 0);
    await fs.chmod(path.dirname(dir), 0o755);
    await fs.chown(dir, appUser.uid, appUser.gid);
  }
  return { dir, bind: `${dir}:${goCacheMount}`, line: plan.line };
}
