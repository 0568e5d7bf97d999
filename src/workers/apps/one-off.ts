import { runContainerName } from '../../core/naming.ts';
import { removeContainer } from '../../docker/containers.ts';
import { OutputLines } from '../../docker/output-lines.ts';
import type { WorkerContext } from '../context.ts';
import type Docker from 'dockerode';
import { containerSpec, type ContainerSpecInput } from './container-spec.ts';
import { ensureAppVolumes } from './app-volumes.ts';
import { joinDatabaseNetworks } from './database-links.ts';
import { ensureAppNetwork, type InstancePlan } from './instances.ts';
import { OutputHandOn } from './output-hand-on.ts';

/**
 * One-off containers: a command run once in a new container of a release (`POST /apps/:name/run`,
 * a schedule's run, the release phase). The container is built by the instances' own
 * `containerSpec` (role `run`), from the release's plan, so it has exactly their image, env
 * (linked databases' URLs included), mounts, limits, hardening and networks; only the command
 * differs, and no port is published.
 */
export interface OneOffRequest {
  /**
   * What the container is named for: the job's id (and a suffix for a second container of the
   * same job), so a retried job finds its predecessor's container and removes it first.
   */
  key: string;
  /** The release: image, env, networks, resources (release-plan.ts). */
  plan: InstancePlan;
  command: string;
  timeoutMs: number;
  /**
   * Receives each output line (stdout and stderr interleaved, as written), in order, one call at a
   * time; at most `runOutputBytes` of them (output-hand-on.ts), then one line saying the rest is not kept.
   */
  onLine: (line: string) => Promise<unknown> | unknown;
}

export interface OneOffResult {
  exitCode: number;
  durationMs: number;
  /** Killed at `timeoutMs`. */
  timedOut: boolean;
  oomKilled: boolean;
  /** The last lines of output (at most `tailLines`). */
  tail: string[];
}

/** Lines of output a result keeps (for the release phase's failure message and a schedule's run list). */
export const tailLines = 20;
/** A longer line is cut (OutputLines): one line of a runaway program must not fill Redis or stall the worker. */
const maxLineChars = 4096;

/**
 * Creates (does not start) a one-off container of the plan's release named `name`: the app's
 * network and volumes first, its linked databases' networks joined. `interactive`: an SSH
 * session's (ssh/run-session.ts), with stdin open and a TTY if asked.
 */
export async function createRunContainer(
  ctx: WorkerContext,
  request: {
    name: string;
    plan: InstancePlan;
    command: string;
    interactive?: ContainerSpecInput['interactive'];
    /** Over the release's env (TERM for a TTY). */
    env?: Record<string, string>;
  },
): Promise<Docker.Container> {
  const { docker, options } = ctx;
  const { plan, name } = request;
  const network = await ensureAppNetwork(ctx, plan.app, plan.uid);
  // The app's volumes, as its instances mount them (a release phase may be the first to use one).
  await ensureAppVolumes(ctx, plan);
  const spec = containerSpec({
    name,
    image: plan.image,
    app: plan.app,
    release: plan.release,
    ...ctx.scope,
    role: 'run',
    releaseDir: plan.releaseDir,
    command: request.command,
    port: plan.port,
    env: { ...plan.env, ...request.env },
    publishAddress: options.nodeAddress,
    extraCaCerts: options.extraCaCerts,
    resources: plan.resources,
    pidsLimit: options.lifecycle.resources.pidsLimit,
    tmpMb: options.lifecycle.disk.tmpMb,
    ...(plan.fromImage ? { fromImage: true } : {}),
    ...(plan.volumes?.length ? { volumes: plan.volumes } : {}),
    ...(request.interactive ? { interactive: request.interactive } : {}),
    network,
  });
  const container = await docker.createContainer(spec);
  await joinDatabaseNetworks(docker, name, plan.networks);
  return container;
}

/**
 * Runs `command` in a new container of the plan's release on this node and waits for it to exit
 * (or kills it at the time limit), streaming its output line by line. The container is removed
 * whatever happens. While it runs its name is in `ctx.runs`, which the reconciliation reads: a
 * run container not there belongs to no running job (its worker died) and is removed.
 */
export async function runOneOff(ctx: WorkerContext, request: OneOffRequest): Promise<OneOffResult> {
  const { docker } = ctx;
  const { plan } = request;
  const name = runContainerName(ctx.scope.installation, plan.app, request.key);
  ctx.runs?.add(name);
  const started = Date.now();
  const tail: string[] = [];
  const handOn = new OutputHandOn(request.onLine);
  const emit = (line: string) => {
    tail.push(line);
    if (tail.length > tailLines) tail.shift();
    handOn.push(line);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    // A retried job's container (its worker died mid-run) goes first: the command runs afresh.
    await removeContainer(docker, name);
    const container = await createRunContainer(ctx, { name, plan, command: request.command });
    // Attached before the start, so not a line of output is missed.
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const lines = new OutputLines((line) => emit(line), { maxLineChars });
    stream.on('data', (chunk: Buffer) => lines.push(chunk));
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    let timedOut = false;
    await container.start();
    timer = setTimeout(() => {
      timedOut = true;
      container.kill().catch(() => undefined);
    }, request.timeoutMs);
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    clearTimeout(timer);
    // The output after the exit is still in flight for a moment; a stream that never ends is not waited for.
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
    lines.end();
    await handOn.settled();
    const state = await container.inspect().then(
      (i) => i.State,
      () => undefined,
    );
    return {
      exitCode: StatusCode,
      durationMs: Date.now() - started,
      timedOut,
      oomKilled: state?.OOMKilled ?? false,
      tail,
    };
  } finally {
    clearTimeout(timer);
    await removeContainer(docker, name).catch((e) => ctx.log.warn({ err: e, container: name }, 'cannot remove'));
    ctx.runs?.delete(name);
  }
}

/** What the job log says after the output of a run that did not end by itself. */
export function endNote(result: OneOffResult, timeoutMs: number, memoryMb: number): string | undefined {
  if (result.timedOut)
    return `killed after ${Math.round(timeoutMs / 1000)} s: over the time limit (GASPER_RUN_TIMEOUT_S)`;
  if (result.oomKilled) return `killed: out of memory (over the app's ${memoryMb} MiB limit)`;
  return undefined;
}
