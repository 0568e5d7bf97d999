import fs from 'node:fs/promises';
import path from 'node:path';
import { parseProcfile } from './conventions.ts';

/**
 * The release phase: a command run once per release, after the build and before any of its
 * processes starts (database migrations), as Heroku's Procfile `release:` process or app.json's
 * `scripts.predeploy`. A retried deploy runs it again, as Heroku does: it must be safe to repeat.
 */
export interface ReleaseCommand {
  command: string;
  /** Where it comes from, for the job log. */
  source: string;
}

/**
 * The release command the repository declares: the Procfile's `release:` first, else app.json's
 * `scripts.predeploy`; none when neither does. Pure. app.json is read only this far here: a
 * malformed one is not this function's to report (the deploy goes on without a release phase).
 */
export function planReleaseCommand(files: { procfile?: string; appJson?: string }): ReleaseCommand | undefined {
  const release = files.procfile === undefined ? undefined : parseProcfile(files.procfile).release;
  if (release) return { command: release, source: 'Procfile release process' };
  if (files.appJson === undefined) return undefined;
  try {
    const parsed = JSON.parse(files.appJson) as { scripts?: { predeploy?: unknown } } | null;
    const predeploy = parsed?.scripts?.predeploy;
    if (typeof predeploy === 'string' && predeploy.trim())
      return { command: predeploy.trim(), source: 'app.json scripts.predeploy' };
  } catch {
    // not JSON: no release phase from it
  }
  return undefined;
}

/**
 * Reads the Procfile and app.json at the top of a release directory: real files only, as the
 * conventions read them (a committed `Procfile -> /etc/…` would be a file of the node).
 */
export async function readReleaseCommand(releaseDir: string): Promise<ReleaseCommand | undefined> {
  const read = async (name: string) => {
    const file = path.join(releaseDir, name);
    const stat = await fs.lstat(file).catch(() => undefined);
    return stat?.isFile() ? fs.readFile(file, 'utf8').catch(() => undefined) : undefined;
  };
  const [procfile, appJson] = await Promise.all([read('Procfile'), read('app.json')]);
  return planReleaseCommand({
    ...(procfile !== undefined ? { procfile } : {}),
    ...(appJson !== undefined ? { appJson } : {}),
  });
}

/** The release command exited non-zero (or was killed): the deploy fails, the previous release keeps serving. */
export class ReleasePhaseError extends Error {
  constructor(
    message: string,
    readonly tail: string[],
  ) {
    super(message);
    this.name = 'ReleasePhaseError';
  }
}

/** The failure message of a release phase that did not exit 0. */
export function releaseFailureMessage(
  command: string,
  result: { exitCode: number; timedOut: boolean; oomKilled: boolean },
  timeoutMs: number,
): string {
  if (result.timedOut)
    return `release phase (${command}) was killed after ${Math.round(timeoutMs / 1000)} s (GASPER_RUN_TIMEOUT_S)`;
  if (result.oomKilled) return `release phase (${command}) ran out of memory (exit code ${result.exitCode})`;
  return `release phase (${command}) exited with code ${result.exitCode}`;
}
