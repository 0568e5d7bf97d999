import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { ContainerCreateOptions } from 'dockerode';
import { ensureContainer, removeContainer } from '../../docker/containers.ts';
import { cargoOfflineHint } from './cargo.ts';

export class BuildFailedError extends Error {
  constructor(
    message: string,
    readonly tail: string[],
  ) {
    super(message);
    this.name = 'BuildFailedError';
  }
}

export interface BuildOptions {
  docker: Docker;
  /** A `role: 'build'` spec: the runtime image, sleeping, with the release mounted at /app. */
  spec: ContainerCreateOptions;
  commands: string[];
  timeoutMs: number;
  /** The build container's memory limit (MiB), named when a command runs out of it. */
  memoryMb?: number;
  /**
   * Why the build container was killed from outside (the disk watchdog), if it was: the build
   * then fails with that reason instead of the command's exit code.
   */
  killedBecause?: () => string | undefined;
  /** Receives output lines, prefixed by the command's index, as they come. */
  onLine: (line: string) => Promise<void> | void;
}

/** Splits a byte stream into lines, calling `emit` for each complete one (and the rest at end). */
function lineSplitter(emit: (line: string) => void): PassThrough {
  let pending = '';
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString('utf8')).split(/\r?\n/);
    pending = parts.pop() ?? '';
    parts.forEach(emit);
  });
  stream.on('end', () => pending && emit(pending));
  return stream;
}

/**
 * OOM kills so far in a container's memory cgroup, from the text of cgroup v2's `memory.events`
 * or v1's `memory.oom_control` (both have an `oom_kill <n>` line; the file absent or the line
 * missing: 0). Docker's State.OOMKilled cannot tell: it concerns the container's main process,
 * and a build's commands are exec'd beside it.
 */
export function oomKills(text: string): number {
  const match = /^oom_kill (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

/** The user's message for a build command the kernel killed for memory. */
export function outOfMemoryMessage(index: number, command: string, memoryMb: number | undefined): string {
  const limit = memoryMb === undefined ? 'its memory limit' : `limit ${memoryMb} MiB`;
  return `the build ran out of memory (${limit}, GASPER_BUILD_MEMORY_MB): build command ${index + 1} (${command}) was killed`;
}

async function readOomKills(docker: Docker, id: string): Promise<number> {
  const exec = await docker.getContainer(id).exec({
    Cmd: ['sh', '-c', 'cat /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null; true'],
    AttachStdout: true,
    AttachStderr: false,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  docker.modem.demuxStream(stream, out, new PassThrough());
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  return oomKills(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Runs the build commands one by one in a throwaway container of the app's image, each as
 * `sh -c` through docker exec, so each has its own exit code and timing. The container is
 * removed whatever happens. A failing command or the timeout fails the build (BuildFailedError,
 * a user error) with the last lines of output; Docker trouble is thrown as is (transient).
 */
export async function runBuild(options: BuildOptions): Promise<void> {
  const { docker } = options;
  // A build container an interrupted attempt left (its worker was killed) still mounts the
  // release directory the retry has cloned again, deleted: exec would fail there. Start afresh.
  await removeContainer(docker, options.spec.name!);
  const { id } = await ensureContainer(docker, options.spec);
  const tail: string[] = [];
  let timedOut = false;
  let oomSeen = 0;
  const timer = setTimeout(() => {
    timedOut = true;
    void removeContainer(docker, id);
  }, options.timeoutMs);
  try {
    await docker
      .getContainer(id)
      .start()
      .catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 304) throw err;
      });
    for (const [index, command] of options.commands.entries()) {
      await options.onLine(`$ ${command}`);
      const exec = await docker.getContainer(id).exec({
        Cmd: ['sh', '-c', command],
        AttachStdout: true,
        AttachStderr: true,
        WorkingDir: '/app',
      });
      const stream = await exec.start({ hijack: true, stdin: false });
      const lines: Promise<void>[] = [];
      const emit = (line: string) => {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        lines.push(Promise.resolve(options.onLine(`  ${line}`)));
      };
      const out = lineSplitter(emit);
      const err = lineSplitter(emit);
      docker.modem.demuxStream(stream, out, err);
      await new Promise<void>((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', reject);
      });
      out.end();
      err.end();
      await Promise.all(lines);
      const { ExitCode } = await exec.inspect();
      const killed = options.killedBecause?.();
      if (killed) throw new BuildFailedError(killed, tail.slice(-20));
      // Counted per command: a command that survived the kill of one of its children (npm, make
      // -j) and succeeded passes, and a later failure is not blamed on that kill.
      const oom = await readOomKills(docker, id);
      const outOfMemory = oom > oomSeen;
      oomSeen = oom;
      if (ExitCode !== 0 && outOfMemory)
        throw new BuildFailedError(outOfMemoryMessage(index, command, options.memoryMb), tail.slice(-20));
      if (ExitCode !== 0) {
        // A Rust build that wanted crates.io says why it cannot have it (cargo.ts).
        const hint = cargoOfflineHint(command, tail);
        throw new BuildFailedError(
          `build command ${index + 1} (${command}) exited with code ${ExitCode}${hint ? `. ${hint}` : ''}`,
          tail.slice(-20),
        );
      }
    }
  } catch (err) {
    if (timedOut)
      throw new BuildFailedError(`build timed out after ${Math.round(options.timeoutMs / 1000)} s`, tail.slice(-20));
    const killed = options.killedBecause?.();
    if (killed && !(err instanceof BuildFailedError)) throw new BuildFailedError(killed, tail.slice(-20));
    throw err;
  } finally {
    clearTimeout(timer);
    await removeContainer(docker, id);
  }
}
