import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The `gasper` command a user runs: the launcher of the compiled CLI (dist/cli.js). */
export const gasperBin = path.join(root, 'bin', 'gasper.js');
const compiled = path.join(root, 'dist', 'cli.js');

/** The newest modification time of a `.ts` file under `dir`. */
async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    newest = Math.max(newest, (await fs.stat(path.join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

let building: Promise<void> | undefined;

/**
 * Builds dist/ (`npm run build`) when it is missing or older than a source file, once per test
 * run: tests of the CLI run the compiled command, as users do, and never a stale one.
 */
export function ensureCliBuilt(): Promise<void> {
  building ??= (async () => {
    const built = await fs.stat(compiled).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (built && built >= (await newestSource(path.join(root, 'src')))) return;
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')],
        { cwd: root },
        (err, stdout, stderr) => (err ? reject(new Error(`npm run build failed:\n${stdout}${stderr}`)) : resolve()),
      ),
    );
    // tsc leaves unchanged outputs alone: mark the build as newer than the sources it saw.
    const now = new Date();
    await fs.utimes(compiled, now, now);
  })();
  return building;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `gasper <args>` as a user runs it (the compiled CLI), with a private HOME and `env` (e.g.
 * GASPER_URL and GASPER_TOKEN, or XDG_CONFIG_HOME), and `input` on stdin when given.
 */
export function runGasper(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [gasperBin, ...args],
      { env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}
