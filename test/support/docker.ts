import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { firewallNodeTag } from '../../src/workers/node/app-firewall.ts';
import { databaseLabel } from '../../src/core/database-naming.ts';
import { containerLabels } from '../../src/core/naming.ts';

export const docker = new Docker();
const run = promisify(execFile);

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

/**
 * Removes every container test nodes left behind (after a failed assertion, say), then their
 * networks and volumes (apps', databases'). Nodes sharing one daemon are given together: an app's
 * network is named for the app, not the node, so the second node's instances join the network the
 * first one made, and it can go only once both nodes' containers have.
 */
export async function removeNodeContainers(...nodes: string[]): Promise<void> {
  const containers = (await Promise.all(nodes.map((node) => managedContainers(node)))).flat();
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
  for (const node of nodes) await removeNodeObjects(node);
}

/** A test node's networks, volumes and firewall chains, once its containers (removeNodeContainers) are gone. */
async function removeNodeObjects(node: string): Promise<void> {
  const networks = await docker.listNetworks({
    filters: { label: [`${containerLabels.managed}=true`, `${containerLabels.node}=${node}`] },
  });
  // A container removed just before may still hold its endpoint for a moment: a few tries.
  await Promise.all(
    networks.map(async (n) => {
      for (let attempt = 0; attempt < 10; attempt++) {
        const done = await docker
          .getNetwork(n.Id)
          .remove()
          .then(
            () => true,
            (err: { statusCode?: number }) => err.statusCode === 404,
          );
        if (done) return;
        await new Promise((r) => setTimeout(r, 300));
      }
    }),
  );
  // A database's volume, when the test ended before its delete job did (a failed assertion).
  const volumes =
    (
      await docker.listVolumes({
        filters: { label: [`${containerLabels.managed}=true`, `${containerLabels.node}=${node}`] },
      })
    ).Volumes ?? [];
  await Promise.all(
    volumes.map((v) =>
      docker
        .getVolume(v.Name)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
  await removeNodeFirewall(node);
}

/** The app firewall chains (and their hooks) of a test node whose worker was killed before it could remove them. */
export async function removeNodeFirewall(node: string): Promise<void> {
  const ours = new RegExp(`^-A (\\S+) (.*-j (GSP-[0-9a-f]{8}-${firewallNodeTag(node)}-[IF]))$`);
  for (const binary of ['iptables', 'ip6tables']) {
    const rules = await run(binary, ['-w', '5', '-S']).then(
      (r) => r.stdout.split('\n'),
      () => [] as string[],
    );
    const chains = new Set<string>();
    for (const line of rules) {
      const hook = ours.exec(line);
      if (!hook) continue;
      chains.add(hook[3]!);
      await run(binary, ['-w', '5', '-D', hook[1]!, ...hook[2]!.split(' ')]).catch(() => {});
    }
    for (const chain of chains) {
      await run(binary, ['-w', '5', '-F', chain]).catch(() => {});
      await run(binary, ['-w', '5', '-X', chain]).catch(() => {});
    }
  }
}

/**
 * A container name without its installation id (`gasper-1a2b3c4d-web-r000001-0` → `gasper-web-r000001-0`):
 * tests know their app's name, not the id a test installation made up on first start.
 */
export const withoutInstallation = (name: string): string => name.replace(/^(\/?)gasper-[0-9a-f]{8}-/, '$1gasper-');

/** The container of a database, found by its label (its name carries the installation id). */
export async function databaseContainer(name: string): Promise<Docker.Container> {
  const [found, ...more] = await docker.listContainers({
    all: true,
    filters: { label: [`${databaseLabel}=${name}`, `${containerLabels.role}=database`] },
  });
  if (!found || more.length)
    throw new Error(`expected one container of database ${name}, found ${more.length + (found ? 1 : 0)}`);
  return docker.getContainer(found.Id);
}
