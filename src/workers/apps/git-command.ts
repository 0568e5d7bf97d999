import { spawn } from 'node:child_process';

/** git ran past a limit: no output for `idleTimeoutMs` (`idle`), or longer than `timeoutMs` (`total`). */
export class GitTimeoutError extends Error {
  constructor(
    readonly reason: 'idle' | 'total',
    readonly heard: boolean,
    readonly output: string,
  ) {
    super(`git ${reason === 'idle' ? 'was silent too long' : 'ran too long'}`);
    this.name = 'GitTimeoutError';
  }
}

export class GitCommandError extends Error {
  constructor(
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(stderr.trim() || `git exited with ${code}`);
    this.name = 'GitCommandError';
  }
}

const keptOutput = 64 * 1024;

/**
 * Runs git in its own process group with two limits: silence (nothing on stdout or stderr,
 * progress included, for `idleTimeoutMs`: a server that accepts and never answers) and total
 * time. Past either, the whole group is killed (git's helpers, ssh, remote-https with it), so
 * a worker slot is never held longer than the limits.
 */
export function runGit(
  args: string[],
  options: { cwd?: string; env: Record<string, string>; idleTimeoutMs: number; timeoutMs: number },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let heard = false;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      clearTimeout(total);
      fn();
    };
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const expire = (reason: 'idle' | 'total') => () => {
      kill();
      finish(() => reject(new GitTimeoutError(reason, heard, stderr)));
    };
    let idle = setTimeout(expire('idle'), options.idleTimeoutMs);
    const total = setTimeout(expire('total'), options.timeoutMs);
    const heardFrom = () => {
      // git's own first line ("Cloning into ...") is not the server speaking.
      heard ||= /Receiving|Counting|Enumerating|Compressing|remote:|Total|fatal|error/i.test(stderr);
      clearTimeout(idle);
      idle = setTimeout(expire('idle'), options.idleTimeoutMs);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString('utf8')).slice(-keptOutput);
      heardFrom();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-keptOutput);
      heardFrom();
    });
    child.on('error', (err) => finish(() => reject(err)));
    child.on('close', (code) =>
      finish(() => (code === 0 ? resolve({ stdout, stderr }) : reject(new GitCommandError(code, stderr)))),
    );
  });
}
