import fs from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { ensureImage, removeContainer } from '../../docker/containers.ts';
import { holderPidsLimit, nestingProblem, pidsCgroupOf, reachedLimit } from './build-pids-plan.ts';

/** A Dockerfile build's pids bound: the cgroup parent to build under, while it is held. */
export interface PidsBound {
  /** The `cgroupparent` of the build; undefined: the daemon cannot bound it (`line` says why). */
  cgroupParent: string | undefined;
  /** What the job log says about it. */
  line: string;
  /** Whether the build reached the limit; undefined when it cannot be told. */
  reached(): Promise<boolean | undefined>;
  /**
   * Settles when the holder stops (the disk watchdog kills a release's build container): the
   * build must stop with it, or its next step's cgroup could be made again with no limit.
   */
  stopped: Promise<void>;
  /** Removes the holder; safe to repeat. */
  close(): Promise<void>;
}

/** The output of a command run in a container (stdout only). */
async function execText(docker: Docker, id: string, cmd: string[]): Promise<string> {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: false });
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
  return Buffer.concat(chunks).toString('utf8');
}

const unbounded = (why: string): PidsBound => ({
  cgroupParent: undefined,
  line: `pids: the RUN steps are not held to GASPER_BUILD_PIDS_LIMIT: ${why} (see docs/guides/dockerfile.md)`,
  reached: async () => undefined,
  stopped: new Promise(() => {}),
  close: async () => {},
});

/**
 * The holder's pids cgroup. The worker usually runs on the daemon's host: it reads the holder's
 * `/proc/<pid>/cgroup` there, an inspect (tens of ms) instead of an exec (a few hundred). The
 * container's id in the path proves the pid is the holder's: a worker in another pid namespace
 * would read another process (or none), and then asks the holder itself, as it always may.
 */
async function holderCgroup(docker: Docker, id: string): Promise<string | undefined> {
  const pid = (await docker.getContainer(id).inspect()).State?.Pid;
  if (pid) {
    const seen = pidsCgroupOf(await fs.readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => ''));
    if (seen?.includes(id)) return seen;
  }
  return pidsCgroupOf(await execText(docker, id, ['cat', '/proc/self/cgroup']));
}

/**
 * Starts the holder (build-pids-plan.ts): a container of `image` that only sleeps, as nobody,
 * with no network and no capabilities, whose PidsLimit bounds the build made inside its cgroup.
 * Labelled as the release's build container (and named for it and the node), so that
 * reconciliation removes one an interrupted worker left, and deleting the app removes it. On a
 * daemon that cannot nest a build in it, no holder is started and the build runs as before, the
 * job log saying why.
 */
export async function boundBuildPids(docker: Docker, input: PidsHolderSpec): Promise<PidsBound> {
  const problem = nestingProblem((await docker.info()) as { CgroupVersion?: string; CgroupDriver?: string });
  if (problem) return unbounded(problem);
  // A holder an interrupted attempt left is not reused: its peak would be that attempt's.
  await removeContainer(docker, input.name);
  await ensureImage(docker, input.image);
  const container = await docker.createContainer({
    name: input.name,
    Image: input.image,
    Entrypoint: [],
    Cmd: ['sleep', 'infinity'],
    User: '65534:65534',
    Labels: input.labels,
    HostConfig: {
      NetworkMode: 'none',
      PidsLimit: holderPidsLimit(input.limit),
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } },
    },
  });
  const close = () => removeContainer(docker, container.id);
  try {
    await container.start();
    const stopped = container.wait().then(
      () => undefined,
      () => undefined,
    );
    const cgroup = await holderCgroup(docker, container.id);
    if (!cgroup) {
      await close();
      return unbounded("the holder container's cgroup path is hidden (a private cgroup namespace)");
    }
    return {
      cgroupParent: cgroup,
      line: `pids: the RUN steps together run at most ${input.limit} processes and threads (GASPER_BUILD_PIDS_LIMIT)`,
      reached: async () =>
        reachedLimit(
          await execText(docker, container.id, ['cat', '/sys/fs/cgroup/pids/pids.peak']).catch(() => ''),
          input.limit,
        ),
      stopped,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * What a holder is made of: its name and labels (the release's build container's), an image with
 * `sleep`, the limit.
 */
export interface PidsHolderSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  limit: number;
}

/**
 * A build's holder, started at most once and removed at most once. Its start takes about as long
 * as a clone (a container start), so a deploy that can only build from its Dockerfile starts it
 * beside the clone (`startEarly`) and the build waits for it (`bound`); its removal starts when the
 * build ends and overlaps the app's start (`close` gives the same promise to every caller, awaited
 * before the deploy ends).
 */
export class BuildPidsHolder {
  #bound: Promise<PidsBound> | undefined;
  #closed: Promise<void> | undefined;

  constructor(
    private readonly docker: Docker,
    private readonly spec: PidsHolderSpec,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** The bound, the holder started on the first call. After `close`, none is started again. */
  bound(): Promise<PidsBound> {
    if (this.#closed) return Promise.reject(new Error(`the build's pids holder ${this.spec.name} is closed`));
    this.#bound ??= boundBuildPids(this.docker, this.spec);
    return this.#bound;
  }

  /** Starts the holder now, beside other work; a failure is reported by the build's `bound()`. */
  startEarly(): void {
    this.bound().catch(() => undefined);
  }

  /** Removes the holder if one was started (one that failed to start removed itself). */
  close(): Promise<void> {
    this.#closed ??= this.#bound
      ? this.#bound.then(
          (bound) => bound.close(),
          () => undefined,
        )
      : Promise.resolve();
    return this.#closed;
  }
}
