import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { depsMarker, installOf, planDepsReuse, type ReuseCandidate } from './deps-reuse-plan.ts';

const run = promisify(execFile);

/** The lockfile the install follows and its key (lockfile name and bytes, runtime image), if it has one. */
async function depsKey(dir: string, commands: string[], image: string): Promise<{ lockfile?: string; key?: string }> {
  for (const lockfile of installOf(commands)?.lockfiles ?? []) {
    const bytes = await fs.readFile(path.join(dir, lockfile)).catch(() => undefined);
    if (!bytes) continue;
    const key = crypto.createHash('sha256').update(`${lockfile}\0${image}\0`).update(bytes).digest('hex');
    return { lockfile, key };
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
}

/**
 * Before a runtime build: reuses an earlier release's node_modules when its key is the same
 * (deps-reuse-plan.ts), copying it into this release's directory and dropping the install
 * command. A copy (reflinked where the filesystem can), not hardlinks: the earlier release is a
 * rollback target, and a file rewritten in place by this release must not change it. A copy
 * that fails leaves the install to run.
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
  const plan = planDepsReuse({ ...input, lockfile, key, candidates: await candidates(input.releasesDir) });
  const lines = plan.line ? [plan.line] : [];
  if (!plan.reuse) return { commands: input.commands, lines, key };
  const source = path.join(input.releasesDir, plan.from, 'node_modules');
  const target = path.join(dir, 'node_modules');
  try {
    await fs.rm(target, { recursive: true, force: true });
    await run('cp', ['-a', '--reflink=auto', source, target]);
  } catch (err) {
    await fs.rm(target, { recursive: true, force: true });
    const why = (err as Error).message.split('\n')[0];
    return { commands: input.commands, lines: [`dependencies: cannot reuse ${plan.from}'s (${why}): installing`], key };
  }
  return { commands: input.commands.filter((_, i) => i !== plan.skip), lines, key };
}

/** Records the release's key after its build succeeded: later releases with the same key reuse it. */
export async function recordDeps(releaseDir: string, key: string | undefined): Promise<void> {
  if (key) await fs.writeFile(path.join(releaseDir, depsMarker), `${key}\n`);
}
