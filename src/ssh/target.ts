import { appNameProblem } from '../core/naming.ts';
import type { Instance } from '../events/schemas.ts';

/** Who an SSH user name asks for: `<app>` (any instance) or `<app>.<n>` (instance n, from 0). */
export interface SshTarget {
  app: string;
  instance?: number;
}

/** Parses the SSH user name; undefined when it cannot name an app. */
export function parseSshUser(username: string): SshTarget | undefined {
  const match = /^([a-z0-9-]+)(?:\.(\d{1,3}))?$/.exec(username);
  if (!match || appNameProblem(match[1]!) !== undefined) return undefined;
  return match[2] === undefined ? { app: match[1]! } : { app: match[1]!, instance: Number(match[2]) };
}

export type InstanceChoice = { ok: true; instance: Instance } | { ok: false; problem: string };

/** The instance a session runs in: the one asked for, else the first. */
export function chooseInstance(instances: readonly Instance[], target: SshTarget): InstanceChoice {
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
