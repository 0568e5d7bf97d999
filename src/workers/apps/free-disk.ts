import fs from 'node:fs/promises';

/** A build refused because the node's disk is nearly full (GASPER_MIN_FREE_DISK_MB): permanent. */
export class DiskFullError extends Error {}

const mib = (bytes: number): number => Math.floor(bytes / 1024 / 1024);

/**
 * Why a build may not start with `freeBytes` free, or undefined when it may. Pure. A build that
 * starts on a nearly full disk fails halfway (npm, git, Docker layers) with an error that names
 * none of that, and may take the running apps' writes and Redis's with it: refusing first says why.
 */
export function freeDiskProblem(freeBytes: number, minFreeMb: number, node: string): string | undefined {
  if (minFreeMb <= 0 || mib(freeBytes) >= minFreeMb) return undefined;
  return `node ${node} has ${mib(freeBytes)} MiB of free disk for builds, below GASPER_MIN_FREE_DISK_MB (${minFreeMb} MiB): the build was refused. Free disk on the node (delete unused apps, lower GASPER_KEEP_RELEASES, prune what is not Gasper's) or give it more, then deploy again`;
}

/** Throws DiskFullError when the filesystem holding `stateDir` has less free than `minFreeMb`. */
export async function ensureFreeDisk(stateDir: string, minFreeMb: number, node: string): Promise<void> {
  if (minFreeMb <= 0) return;
  // statfs failing (an unusual filesystem) is no reason to refuse: the build says what it finds.
  const stats = await fs.statfs(stateDir).catch(() => undefined);
  if (!stats) return;
  const problem = freeDiskProblem(stats.bavail * stats.bsize, minFreeMb, node);
  if (problem) throw new DiskFullError(problem);
}
