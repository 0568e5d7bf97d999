import Docker from 'dockerode';
import { containerLabels } from '../../src/core/naming.ts';

export const docker = new Docker();

/** Fails (never skips) when no Docker daemon answers: these tests need the real engine. */
export async function requireDocker(): Promise<void> {
  await docker.ping().catch((err: Error) => {
    throw new Error(`these tests need a running Docker daemon (dockerd): ${err.message}`);
  });
}

/** Gasper's containers of one node, any state. */
export async function managedContainers(node: string, app?: string): Promise<Docker.ContainerInfo[]> {
  const label = [`${containerLabels.managed}=true`, `${containerLabels.node}=${node}`];
  if (app) label.push(`${containerLabels.app}=${app}`);
  return docker.listContainers({ all: true, filters: { label } });
}

/** Removes every container a test node left behind (after a failed assertion, say). */
export async function removeNodeContainers(node: string): Promise<void> {
  const containers = await managedContainers(node);
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
}
