import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { EngineExec } from '../core/engines.ts';

/** Narrow Docker adapter for commands run in a running container (database clients, backups). */

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

export class ExecOutputTooLargeError extends Error {
  constructor(limit: number) {
    super(`output is larger than ${limit} bytes`);
    this.name = 'ExecOutputTooLargeError';
  }
}

/**
 * Runs a command in a running container, feeding `input` (or the exec's own stdin text) and
 * collecting stdout (binary, up to `maxStdout` bytes) and stderr (text). Secrets travel in the
 * exec's environment or stdin, which neither `docker inspect` of the container nor `ps` shows.
 */
export async function runExec(
  docker: Docker,
  container: string,
  spec: EngineExec,
  options: { input?: Buffer; maxStdout?: number; timeoutMs?: number } = {},
): Promise<ExecResult> {
  const input = options.input ?? (spec.stdin !== undefined ? Buffer.from(spec.stdin) : undefined);
  const exec = await docker.getContainer(container).exec({
    Cmd: spec.cmd,
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    User: spec.user,
    AttachStdin: input !== undefined,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: input !== undefined });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (options.maxStdout !== undefined && size > options.maxStdout) {
      tooLarge = true;
      stream.destroy();
      return;
    }
    out.push(chunk);
  });
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  docker.modem.demuxStream(stream, stdout, stderr);
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', (e: Error) => (tooLarge ? resolve() : reject(e)));
  });
  if (input !== undefined) stream.end(input);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        stream.destroy();
        reject(new Error(`${spec.cmd[0]} did not finish within ${options.timeoutMs} ms`));
      },
      options.timeoutMs ?? 10 * 60_000,
    );
  });
  try {
    await Promise.race([ended, timeout]);
  } finally {
    clearTimeout(timer);
  }
  if (tooLarge) throw new ExecOutputTooLargeError(options.maxStdout!);
  // The stream can end a moment before Docker records the exit code.
  let info = await exec.inspect();
  for (let i = 0; i < 50 && info.Running; i++) {
    await new Promise((r) => setTimeout(r, 20));
    info = await exec.inspect();
  }
  return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
}

/** Whether an exec succeeded by the engine's rules: exit code 0 and, when given, the expected output. */
export function execSucceeded(spec: EngineExec, result: ExecResult): boolean {
  return result.exitCode === 0 && (!spec.expect || spec.expect.test(result.stdout.toString('utf8')));
}
