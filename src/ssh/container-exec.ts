import crypto from 'node:crypto';
import { Writable, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { appUser } from '../core/app-user.ts';

/**
 * docker exec with what an SSH session needs: a PTY or separate stdout/stderr, resizes, the
 * exit status, and a way to end the process, which Docker's exec API lacks. Every process a
 * session starts carries a random marker in its environment (inherited by its children), so
 * ending the session finds them by `/proc/<pid>/environ` and signals them, HUP as sshd does on
 * hang-up, then KILL for whatever is left.
 */
export interface ContainerExecOptions {
  docker: Docker;
  container: string;
  /** A command for the shell to run; undefined opens the shell itself. */
  command?: string;
  /** Allocate a PTY of this size and terminal type. */
  pty?: { term: string; cols: number; rows: number };
}

export interface ContainerExec {
  /**
   * Input of the process (the client's stdin). Without a PTY, ending it sends EOF. With a PTY its
   * end is ignored, as sshd ignores a client's EOF on a PTY session (a terminal's EOF is ^D in
   * the data): Docker answers a TTY exec's stdin EOF by closing its output at once, which lost
   * whatever the process had not yet printed (`ssh -tt app@host 'echo a; echo b'` printed nothing).
   */
  stdin: Writable;
  /**
   * Wires the output: with a PTY everything goes to `stdout`. Resolves with the exit code once
   * the process has exited and all its output was handed to `stdout` and `stderr`.
   */
  run(stdout: Writable, stderr: Writable): Promise<number>;
  resize(cols: number, rows: number): Promise<void>;
  /** Ends every process of the session. Safe to repeat. */
  kill(): Promise<void>;
}

export const sessionMarker = 'GASPER_SSH_SESSION';

/** /bin/bash where the image has it, else /bin/sh; with `-c <command>` for a command. */
export const shellCmd = (command: string | undefined) => [
  '/bin/sh',
  '-c',
  'if [ -x /bin/bash ]; then exec /bin/bash "$@"; fi; exec /bin/sh "$@"',
  'gasper-shell',
  ...(command === undefined ? [] : ['-c', command]),
];

/** Signals the processes whose environment holds the marker: HUP, then KILL after 2 s. */
const killScript = `t="${sessionMarker}=$1"
victims() { for d in /proc/[0-9]*; do tr '\\0' '\\n' < "$d/environ" 2>/dev/null | grep -qxF "$t" && echo "\${d#/proc/}"; done; }
p=$(victims); [ -z "$p" ] && exit 0
kill -HUP $p 2>/dev/null
for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.2; p=$(victims); [ -z "$p" ] && exit 0; done
kill -KILL $p 2>/dev/null
exit 0`;

/**
 * Passes chunks on to `to` and tracks the callback of the last one: once it ran, every byte
 * before it was handed on as well (the SSH channel holds data back while the client's window is full).
 */
export function relay(to: Writable): Writable & { flushed(): Promise<void> } {
  let last: Promise<void> = Promise.resolve();
  return Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        last = new Promise<void>((resolve) => to.write(chunk, () => resolve()));
        callback();
      },
    }),
    { flushed: () => last },
  );
}

/** Writes through to `stream`, but never ends it: see `ContainerExec.stdin`. */
export function keepOpen(stream: Duplex): Writable {
  return new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      if (stream.destroyed || !stream.writable) return callback();
      stream.write(chunk, () => callback());
    },
    final: (callback) => callback(),
  });
}

export async function startContainerExec(options: ContainerExecOptions): Promise<ContainerExec> {
  const { docker, pty } = options;
  const container = docker.getContainer(options.container);
  const token = crypto.randomBytes(16).toString('hex');
  const user = `${appUser.uid}:${appUser.gid}`;
  const exec = await container.exec({
    Cmd: shellCmd(options.command),
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: pty !== undefined,
    User: user,
    WorkingDir: '/app',
    Env: [`${sessionMarker}=${token}`, ...(pty ? [`TERM=${pty.term || 'xterm'}`] : [])],
  });
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: pty !== undefined })) as Duplex;
  let finished = false;
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  const resize = async (cols: number, rows: number) => {
    if (!pty || finished) return;
    await exec.resize({ w: Math.max(1, cols), h: Math.max(1, rows) }).catch(() => {
      // The process may have just exited: nothing left to resize.
    });
  };
  if (pty) await resize(pty.cols, pty.rows);

  let killing: Promise<void> | undefined;
  return {
    stdin: pty ? keepOpen(stream) : stream,
    async run(stdout, stderr) {
      const out = relay(stdout);
      const err = relay(stderr);
      if (pty) stream.on('data', (chunk: Buffer) => out.write(chunk));
      else docker.modem.demuxStream(stream, out, err);
      await ended;
      // Only now may the caller send the exit status: the client must have all the output first.
      // A client gone meanwhile takes nothing more (its channel may never call back).
      const gone = new Promise<void>((resolve) =>
        stdout.destroyed ? resolve() : stdout.once('close', () => resolve()),
      );
      await Promise.race([Promise.all([out.flushed(), err.flushed()]), gone]);
      finished = true;
      // The stream ends as the process exits; Docker may report it as running a moment longer.
      for (let i = 0; i < 50; i++) {
        const info = await exec.inspect();
        if (!info.Running) return info.ExitCode ?? 255;
        await new Promise((r) => setTimeout(r, 20));
      }
      return 255;
    },
    resize,
    kill() {
      killing ??= (async () => {
        stream.destroy();
        const killer = await container.exec({
          Cmd: ['/bin/sh', '-c', killScript, 'gasper-ssh-kill', token],
          User: user,
          AttachStdout: true,
          AttachStderr: true,
        });
        const out = (await killer.start({ hijack: true, stdin: false })) as Duplex;
        out.resume();
        await new Promise<void>((resolve) => {
          out.once('end', resolve);
          out.once('close', resolve);
          out.once('error', () => resolve());
        });
      })();
      return killing;
    },
  };
}
