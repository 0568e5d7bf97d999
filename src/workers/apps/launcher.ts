import fs from 'node:fs/promises';
import path from 'node:path';
import { containerLaunchDir } from './container-spec.ts';
import { planConventions, type ConventionPlan } from './conventions.ts';
import { readRepoListing } from './repo-listing.ts';

/**
 * Why a launcher: the app container is created while the repository is still being cloned (that
 * parallelism is most of a deploy's speed), so when the app gives no `run`, its run command is not
 * known when the container is made. The container is created with a fixed command that, at start,
 * runs the command written after the clone into a per-release launch directory. That directory
 * lives beside the release, not in it, because the release is served as it is by the static and
 * PHP runtimes (a file in /app would be public), and it is bind-mounted read-only, so the app
 * cannot rewrite how it is started. It belongs to the release: a container made again for the same
 * release (a restart, another instance, a rollback) starts the same command without a clone.
 */

/**
 * The app container's command when the app gives no `run`. `sh -c` of the written command, exactly
 * as for a given `run`; a missing file fails the start (`set -e`) rather than running nothing.
 */
export const launcherCommand = `set -e; run=$(cat ${containerLaunchDir}/run); exec sh -c "$run"`;

/**
 * A container started before its release is ready, so that Docker's start (the slowest step of
 * a container, most of all on the app's own network) overlaps the clone and build instead of
 * following them: it waits for the release's `ready` file in the read-only launch directory, then
 * `exec`s the app's command, which so stays the container's main process (signals reach it). It
 * checks every 10 ms for half a second, then every 200 ms: a build may take minutes.
 */
export function heldCommand(command: string): string {
  const quoted = `'${command.replaceAll("'", `'\\''`)}'`;
  return (
    `i=0; until [ -e ${containerLaunchDir}/ready ]; do ` +
    `if [ $i -lt 50 ]; then sleep 0.01; else sleep 0.2; fi; i=$((i+1)); done; exec sh -c ${quoted}`
  );
}

/** Lets the release's held containers run the app (see heldCommand); harmless to repeat. */
export async function markReleaseReady(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  await fs.writeFile(path.join(dir, 'ready'), '', { mode: 0o644 });
}

/** `<appDir>/launch/<release>`: holds `run`, the release's run command. */
export function launchDir(appDir: string, release: string): string {
  return path.join(appDir, 'launch', release);
}

/** Writes the run command (atomically: a container restarting meanwhile reads the old or the new one). */
export async function writeRunCommand(dir: string, command: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const temporary = path.join(dir, `.run-${process.pid}-${Date.now()}`);
  await fs.writeFile(temporary, `${command}\n`, { mode: 0o644 });
  await fs.rename(temporary, path.join(dir, 'run'));
}

/** Removes the launch directories of releases whose release directory is gone (pruned or failed). */
export async function pruneLaunchDirs(appDir: string): Promise<void> {
  const launches = await fs.readdir(path.join(appDir, 'launch')).catch(() => [] as string[]);
  const releases = new Set(await fs.readdir(path.join(appDir, 'releases')).catch(() => [] as string[]));
  await Promise.all(
    launches.filter((r) => !releases.has(r)).map((r) => fs.rm(launchDir(appDir, r), { recursive: true, force: true })),
  );
}

/**
 * The deploy's hook after the clone: decides the release's build and run commands from the app's
 * own and the repository's conventions, and writes the run command for the launcher when the app
 * gives none. Safe to repeat (a retried job writes the same file).
 */
export async function prepareReleaseCommands(input: {
  app: string;
  appDir: string;
  release: string;
  releaseDir: string;
  runtime: string;
  build?: string[];
  run?: string;
}): Promise<ConventionPlan> {
  const plan = planConventions(
    input.runtime,
    await readRepoListing(input.releaseDir),
    { build: input.build, run: input.run },
    input.app,
  );
  if (!input.run && plan.run.command) {
    await pruneLaunchDirs(input.appDir);
    await writeRunCommand(launchDir(input.appDir, input.release), plan.run.command);
  }
  return plan;
}
