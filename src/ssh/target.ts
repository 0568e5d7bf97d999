import { appNameProblem } from '../core/naming.ts';
import type { Instance } from '../events/schemas.ts';

/**
 * Who an SSH user name asks for: `<app>` (any instance), `<app>.<n>` (instance n, from 0), or
 * `<app>.run`: a new one-off container of the current release (ssh/run-session.ts). App names
 * are DNS labels, without dots, and instance numbers are digits: `.run` is neither.
 */
export type SshTarget = { app: string; instance?: number; run?: undefined } | { app: string; run: true };

/** The suffix of the user name that asks for a one-off container. */
export const runSuffix = '.run';

/** Parses the SSH user name; undefined when it cannot name an app. */
export function parseSshUser(username: string): SshTarget | undefined {
  const match = /^([a-z0-9-]+)(?:\.(\d{1,3}|run))?$/.exec(username);
  if (!match || appNameProblem(match[1]!) !== undefined) return undefined;
  if (match[2] === undefined) return { app: match[1]! };
  return match[2] === 'run' ? { app: match[1]!, run: true } : { app: match[1]!, instance: Number(match[2]) };
}

export type InstanceChoice = { ok: true; instance: Instance } | { ok: false; problem: string };

/** The instance a session runs in: the one asked for, else the first. */
export function chooseInstance(
  instances: readonly Instance[],
  target: { app: string; instance?: number },
): InstanceChoice {
  if (instances.length === 0) return { ok: false, problem: `app "${target.app}" has no running instance` };
  if (target.instance === undefined) return { ok: true, instance: instances[0]! };
  const instance = instances[target.instance];
  if (!instance) {
    return {
      ok: false,
      problem: `app "${target.app}" has no instance ${target.instance} (it has ${instances.length}: 0..${instances.length - 1})`,
    };
  }
  return { ok: true, instance };
}

export type DockerEndpoint = { ok: true; endpoint: string | undefined } | { ok: false; problem: string };

/**
 * Which Docker daemon runs an instance: this node's own (`localDockerHost`, undefined meaning the
 * local socket) or the endpoint another node advertises in its node document.
 */
export function dockerEndpointFor(
  instance: Instance,
  self: { nodeId: string; dockerHost: string | undefined },
  nodes: readonly { id: string; docker?: string }[],
): DockerEndpoint {
  if (instance.node === self.nodeId) return { ok: true, endpoint: self.dockerHost };
  const node = nodes.find((n) => n.id === instance.node);
  if (!node) return { ok: false, problem: `node "${instance.node}" is not registered` };
  if (!node.docker)
    return {
      ok: false,
      problem: `node "${instance.node}" does not advertise a Docker endpoint (GASPER_NODE_DOCKER_HOST)`,
    };
  return { ok: true, endpoint: node.docker };
}

export type RunPlace = { ok: true } | { ok: false; problem: string };

/**
 * Whether this SSH service can open a one-off container (`<app>.run`) of the app: only on the
 * app's primary node, where its current release (directory and image) is. Otherwise it says
 * which node and which SSH endpoint to use (its address, on this service's port, as a cluster
 * set up alike has it).
 */
export function runSessionPlace(
  doc: { name: string; node: string; release?: string },
  self: { nodeId: string; sshPort: number },
  nodes: readonly { id: string; address: string }[],
): RunPlace {
  if (doc.node !== self.nodeId) {
    const node = nodes.find((n) => n.id === doc.node);
    const where = node ? `: ssh -p ${self.sshPort} ${doc.name}${runSuffix}@${node.address}` : '';
    return {
      ok: false,
      problem: `app "${doc.name}" runs on node "${doc.node}", not this one ("${self.nodeId}"): open the session through that node's SSH service${where}`,
    };
  }
  if (!doc.release) return { ok: false, problem: `app "${doc.name}" has no release to run in yet: deploy it first` };
  return { ok: true };
}
