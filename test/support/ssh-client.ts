import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Fails (never skips) when a client tool is missing: these tests need the real OpenSSH client. */
export async function requireTools(...tools: string[]): Promise<void> {
  for (const tool of tools) {
    await run('sh', ['-c', `command -v ${tool}`]).catch(() => {
      throw new Error(`these tests need \`${tool}\` (scripts/setup.sh installs it)`);
    });
  }
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real OpenSSH client, isolated from the user's own configuration and keys: no config file,
 * its own known_hosts in a temporary directory, only the identity given.
 */
export class SshClient {
  private constructor(
    readonly dir: string,
    readonly knownHosts: string,
  ) {}

  static async create(): Promise<SshClient> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-ssh-'));
    return new SshClient(dir, path.join(dir, 'known_hosts'));
  }

  /** Generates an ed25519 key pair with ssh-keygen; resolves to the private key path and public line. */
  async keygen(name: string): Promise<{ identity: string; publicKey: string }> {
    const identity = path.join(this.dir, name);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@gasper-test`, '-f', identity]);
    return { identity, publicKey: (await fs.readFile(`${identity}.pub`, 'utf8')).trim() };
  }

  /** ssh arguments; `strict` requires the host key already known (no accept-new). */
  args(
    port: number,
    user: string,
    opts: { identity?: string; password?: boolean; strict?: boolean; extra?: string[] } = {},
  ): string[] {
    return [
      '-F',
      '/dev/null',
      '-p',
      String(port),
      '-o',
      `StrictHostKeyChecking=${opts.strict ? 'yes' : 'accept-new'}`,
      '-o',
      `UserKnownHostsFile=${this.knownHosts}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'IdentityAgent=none',
      '-o',
      'ConnectTimeout=10',
      '-o',
      'LogLevel=ERROR',
      ...(opts.password
        ? [
            '-o',
            'PreferredAuthentications=password',
            '-o',
            'PubkeyAuthentication=no',
            '-o',
            'NumberOfPasswordPrompts=1',
          ]
        : [
            '-o',
            'BatchMode=yes',
            '-o',
            'PreferredAuthentications=publickey',
            ...(opts.identity ? ['-i', opts.identity] : []),
          ]),
      ...(opts.extra ?? []),
      `${user}@127.0.0.1`,
    ];
  }

  /** Runs `ssh ... user@127.0.0.1 [command]` to completion (stdin from `input`, else empty). */
  exec(
    port: number,
    user: string,
    command: string | undefined,
    opts: {
      identity?: string;
      password?: string;
      strict?: boolean;
      extra?: string[];
      input?: string;
      timeoutMs?: number;
    } = {},
  ): Promise<SshResult> {
    const base = this.args(port, user, { ...opts, password: opts.password !== undefined });
    const argv = opts.password !== undefined ? ['sshpass', '-e', 'ssh', ...base] : ['ssh', ...base];
    if (command !== undefined) argv.push(command);
    const child = spawn(argv[0]!, argv.slice(1), {
      env: {
        PATH: process.env.PATH!,
        HOME: this.dir,
        ...(opts.password !== undefined ? { SSHPASS: opts.password } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return collect(child, opts.input ?? '', opts.timeoutMs ?? 30_000);
  }

  /** Starts ssh without waiting for it (to kill it mid-command). */
  spawn(port: number, user: string, command: string, opts: { identity?: string; extra?: string[] } = {}): ChildProcess {
    return spawn('ssh', [...this.args(port, user, opts), command], {
      env: { PATH: process.env.PATH!, HOME: this.dir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  remove(): Promise<void> {
    return fs.rm(this.dir, { recursive: true, force: true });
  }
}

function collect(child: ChildProcess, input: string, timeoutMs: number): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ssh did not finish in ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}
