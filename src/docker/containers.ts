import type Docker from 'dockerode';
import type { ContainerCreateOptions, ContainerInfo } from 'dockerode';
import { ownedBy, scopeFilter, type DockerScope } from '../core/installation.ts';
import { containerLabels } from '../core/naming.ts';
import { demuxDockerLog, lastLines } from './log-frames.ts';

/** Narrow Docker adapter for containers Gasper manages on one node. */

const isNotFound = (err: unknown) => (err as { statusCode?: number })?.statusCode === 404;
const isConflict = (err: unknown) => (err as { statusCode?: number })?.statusCode === 409;

export class ImageMissingError extends Error {
  constructor(image: string, reason: string) {
    super(`image ${image} is not on this node and cannot be pulled (${reason}); build it with docker/build-images.sh`);
    this.name = 'ImageMissingError';
  }
}

export class ContainerExitedError extends Error {
  constructor(readonly exitCode: number) {
    super(`app exited before answering HTTP (exit code ${exitCode})`);
    this.name = 'ContainerExitedError';
  }
}

/** Present locally, else pulled; a failed pull is permanent for this job. */
export async function ensureImage(docker: Docker, image: string): Promise<void> {
  try {
    await docker.getImage(image).inspect();
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    const stream = await docker.pull(image);
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
    );
  } catch (err) {
    throw new ImageMissingError(image, (err as Error).message.split('\n')[0] ?? 'pull failed');
  }
}

/**
 * Creates the container unless one with this name and the same spec hash exists (a retry):
 * that one is reused; a stale one of the same name is replaced. Returns its id.
 */
export async function ensureContainer(
  docker: Docker,
  spec: ContainerCreateOptions,
): Promise<{ id: string; reused: boolean }> {
  const name = spec.name!;
  const wanted = spec.Labels?.[containerLabels.specHash];
  try {
    const existing = await docker.getContainer(name).inspect();
    // Names hold the installation id, so this is a defence: never replace what is not ours.
    const installation = spec.Labels?.[containerLabels.installation];
    if (!installation || !ownedBy(installation, existing.Config.Labels)) {
      throw new Error(`a container named ${name} exists and is not this installation's: left alone`);
    }
    if (existing.Config.Labels?.[containerLabels.specHash] === wanted) return { id: existing.Id, reused: true };
    await removeContainer(docker, existing.Id);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const container = await docker.createContainer(spec);
  return { id: container.id, reused: false };
}

/** Force-removes a container; one already gone is fine. */
export async function removeContainer(docker: Docker, idOrName: string): Promise<void> {
  try {
    await docker.getContainer(idOrName).remove({ force: true, v: true });
  } catch (err) {
    // 409: removal already in progress, which ends the same way.
    if (!isNotFound(err) && !isConflict(err)) throw err;
  }
}

/** This installation's containers on this node, by label (all states); never another's, nor unlabelled ones. */
export async function listManaged(
  docker: Docker,
  scope: DockerScope,
  filter: { app?: string } = {},
): Promise<ContainerInfo[]> {
  const label = scopeFilter(scope, filter.app ? { [containerLabels.app]: filter.app } : {});
  return docker.listContainers({ all: true, filters: { label } });
}

/** Starts the container (a running one is left alone) and returns the host port Docker chose. */
export async function startAndGetHostPort(docker: Docker, id: string, containerPort: number): Promise<number> {
  const container = docker.getContainer(id);
  try {
    await container.start();
  } catch (err) {
    // 304: already started (a retry after a crash).
    if ((err as { statusCode?: number }).statusCode !== 304) throw err;
  }
  const info = await container.inspect();
  const binding = info.NetworkSettings.Ports?.[`${containerPort}/tcp`]?.[0];
  const port = Number(binding?.HostPort);
  // A process that exits at once takes its port binding with it, before anyone could probe it.
  if (!port && (!info.State.Running || info.State.Restarting)) throw new ContainerExitedError(info.State.ExitCode);
  if (!port) throw new Error(`container ${info.Name} has no published port for ${containerPort}/tcp`);
  return port;
}

export async function containerState(
  docker: Docker,
  id: string,
): Promise<{ running: boolean; exitCode: number; restarts: number; oomKilled: boolean }> {
  const info = await docker.getContainer(id).inspect();
  return {
    running: info.State.Running && !info.State.Restarting,
    exitCode: info.State.ExitCode,
    restarts: info.RestartCount,
    oomKilled: info.State.OOMKilled,
  };
}

/** The last lines a container wrote (stdout and stderr interleaved). */
export async function containerLogTail(docker: Docker, id: string, lines = 30): Promise<string[]> {
  try {
    const buffer = (await docker
      .getContainer(id)
      .logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    return lastLines(
      demuxDockerLog(buffer)
        .map((f) => f.text)
        .join(''),
      lines,
    );
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}
