import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { depsMarker, installOf, planDepsReuse, type ReuseCandidate } from './deps-reuse-plan.ts';
import { realPathProblem } from './repo-subdir.ts';

const run = promisify(execFile);

/**
 * The lockfile the install follows and its key (lockfile name and bytes, runtime image), if it
 * has one. Only a real file of the repository counts: a committed symlink could name any file of
 * the node, and its hash would be written where the app reads it.
 */
async function depsKey(dir: string, commands: string[], image: string): Promise<{ lockfile?: string; key?: string }> {
  const install = installOf(commands);
  const read = async (file: string) =>
    (await realPathProblem(dir, file, 'file')) === undefined
      ? await fs.readFile(path.join(dir, file)).catch(() => undefined)
      : undefined;
  for (const lockfile of install?.lockfiles ?? []) {
    const bytes = await read(lockfile);
    if (!bytes) continue;
    const hash = crypto.createHash('sha256').update(`${lockfile}\0${image}\0`).update(bytes);
    for (const file of install?.keyedWith ?? []) hash.update(`\0${file}\0`).update((await read(file)) ?? '');
    return { lockfile, key: hash.digest('hex') };
  }
  return {};
}

/** The app's release directories on this node (those the cleanup kept) with the key each recorded. */
async function candidates(releasesDir: string): Promise<ReuseCandidate[]> {
  const names = await fs.readdir(releasesDir).catch(() => [] as string[]);
  return Promise.all(
    names.map(async (release) => ({
      release,
      key: (await fs.readFile(path.join(releasesDir, release, depsMarker), 'utf8').catch(() => undefined))?.trim(),
    })),
  );
}

export interface PreparedDeps {
  /** The build commands left to run. */
  commands: string[];
  /** What the job log says about it, if anything. */
  lines: string[];
  /** Recorded once the build succeeds (recordDeps), so a failed install never becomes a source. */
  key: string | undefined;
  /** What the install fills in the release (node_modules, .local, …), when it has one. */
  directory: string | undefined;
}

/**
 * Before a runtime build: reuses what an earlier release's install filled (node_modules,
 * .local, vendor/bundle, vendor) when its key is the same (deps-reuse-plan.ts), copying it into
 * this release's directory and dropping the install command. A copy (reflinked where the
 * filesystem can), not hardlinks: the earlier release is a rollback target, and a file
 * rewritten in place by this release must not change it. A copy that fails leaves the install
 * to run.
 */
export async function prepareDeps(input: {
  releasesDir: string;
  release: string;
  commands: string[];
  image: string;
  cache: boolean;
}): Promise<PreparedDeps> {
  const dir = path.join(input.releasesDir, input.release);
  // A marker the repository itself carried is not ours: only a successful build writes one.
  await fs.rm(path.join(dir, depsMarker), { force: true });
  const { lockfile, key } = await depsKey(dir, input.commands, input.image);
  const directory = installOf(input.commands)?.directory;
  const plan = planDepsReuse({ ...input, lockfile, key, candidates: await candidates(input.releasesDir) });
  const lines = plan.line ? [plan.line] : [];
  if (!plan.reuse) return { commands: input.commands, lines, key, directory };
  const problem = await copyProblem(path.join(input.releasesDir, plan.from), dir, plan.directory);
  if (problem)
    return {
      commands: input.commands,
      lines: [`dependencies: cannot reuse ${plan.from}'s (${problem}): installing`],
      key,
      directory,
    };
  const target = path.join(dir, plan.directory);
  try {
    await fs.rm(target, { recursive: true, force: true });
    await fs.mkdir(path.dirname(target), { recursive: true });
    await run('cp', ['-a', '--reflink=auto', path.join(input.releasesDir, plan.from, plan.directory), target]);
  } catch (err) {
    await fs.rm(target, { recursive: true, force: true });
    const why = (err as Error).message.split('\n')[0];
    return {
      commands: input.commands,
      lines: [`dependencies: cannot reuse ${plan.from}'s (${why}): installing`],
      key,
      directory,
    };
  }
  return { commands: input.commands.filter((_, i) => i !== plan.skip), lines, key, directory };
}

/**
 * Why `directory` cannot be copied from the release `from` into the release `to`, if it cannot.
 * Both were written by the app's own build and repository, so neither path may be or go through
 * a symlink: a source `vendor -> /root` would copy the node's files into the app, and a target
 * `vendor -> /` would have the copy (run as root) write, and the removal before it delete,
 * outside the release.
 */
async function copyProblem(from: string, to: string, directory: string): Promise<string | undefined> {
  const source = await realPathProblem(from, directory, 'directory');
  if (source) return `its ${directory} is ${source === 'missing' ? 'missing' : 'a symlink or goes through one'}`;
  const parent = path.dirname(directory);
  const target = parent === '.' ? undefined : await realPathProblem(to, parent, 'directory');
  if (target === 'symlink' || target === 'outside') return `this release's ${parent} is a symlink or goes through one`;
  const own = await fs.lstat(path.join(to, directory)).catch(() => undefined);
  if (own?.isSymbolicLink()) return `this release's ${directory} is a symlink`;
  return undefined;
}

/**
 * Records the release's key after its build succeeded: later releases with the same key reuse
 * it. Only when the install left its directory, a real one: an install with nothing to install
 * (no gems) leaves none, and a marker would promise a copy that cannot be made.
 */
export async function recordDeps(releaseDir: string, deps: Pick<PreparedDeps, 'key' | 'directory'>): Promise<void> {
  if (!deps.key || !deps.directory) return;
  if ((await realPathProblem(releaseDir, deps.directory, 'directory')) !== undefined) return;
  await fs.writeFile(path.join(releaseDir, depsMarker), `${deps.key}\n`);
}
