import Docker from 'dockerode';
import { databaseLabel } from '../../src/core/database-naming.ts';
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

/** Removes every container a test node left behind (after a failed assertion, say), then its networks (apps', databases'). */
export async function removeNodeContainers(node: string): Promise<void> {
  const containers = await managedContainers(node);
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
  const networks = await docker.listNetworks({ filters: { label: [`${containerLabels.managed}=true`, `${containerLabels.node}=${node}`] } });
  await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove().catch(() => {})));
}

/**
 * A container name without its installation id (`gasper-1a2b3c4d-web-r000001-0` → `gasper-web-r000001-0`):
 * tests know their app's name, not the id a test installation made up on first start.
 */
export const withoutInstallation = (name: string): string => name.replace(/^(\/?)gasper-[0-9a-f]{8}-/, '$1gasper-');

/** The container of a database, found by its label (its name carries the installation id). */
export async function databaseContainer(name: string): Promise<Docker.Container> {
  const [found, ...more] = await docker.listContainers({ all: true, filters: { label: [`${databaseLabel}=${name}`, `${containerLabels.role}=database`] } });
  if (!found || more.length) throw new Error(`expected one container of database ${name}, found ${more.length + (found ? 1 : 0)}`);
  return docker.getContainer(found.Id);
}
