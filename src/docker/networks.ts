import fs from 'node:fs/promises';
import type Docker from 'dockerode';
import { scopeFilter, scopeLabels, type DockerScope } from '../core/installation.ts';
import { containerLabels } from '../core/naming.ts';
import {
  appBridgeKey,
  appNetworkName,
  appNetworkRole,
  appUidLabel,
  bridgeName,
  cidrRange,
  pickSubnet,
  routedRanges,
  type Range,
} from '../core/networks.ts';

/**
 * Narrow Docker adapter for the bridge networks of apps and databases (core/networks.ts says why):
 * created, listed, joined, removed.
 */

const statusOf = (err: unknown) => (err as { statusCode?: number })?.statusCode;

/** Where networks' subnets come from unless GASPER_NETWORK_POOL says otherwise. */
export const defaultNetworkPool = '10.210.0.0/16';

export interface BridgeNetwork {
  name: string;
  labels: Record<string, string>;
  /** The bridge interface's name (core/networks.ts `bridgeName`). */
  bridge: string;
  /** The IPv4 CIDR its /26 is taken from. */
  pool: string;
}

/** Subnets no new network may take: Docker's networks' and the routes of this host. */
async function usedRanges(docker: Docker): Promise<Range[]> {
  const networks = await docker.listNetworks();
  const ofDocker = networks.flatMap((n) =>
    (n.IPAM?.Config ?? []).flatMap((c) => (c.Subnet ? [cidrRange(c.Subnet)] : [])).filter((r): r is Range => !!r),
  );
  // The daemon's host is this one in the usual set-up; elsewhere, the routes do no harm.
  const routes = routedRanges(await fs.readFile('/proc/net/route', 'utf8').catch(() => ''));
  return [...ofDocker, ...routes];
}

/** Creations under way in this process, per daemon and network name (see ensureBridgeNetwork). */
const creating = new WeakMap<Docker, Map<string, Promise<string>>>();

/**
 * The network of that name, created if missing with its named bridge and a free /26 of the pool;
 * returns its id. Callers in this process asking for the same network at once share one creation:
 * two would pick the same subnet and bridge name, and the daemon refuses the second with a 403,
 * not the 409 of a duplicate name (a deploy makes the network beside its clone, and its build
 * asks for it too). A creation by another process is reused, and one that took the subnet picked
 * meanwhile makes it pick again.
 */
export function ensureBridgeNetwork(docker: Docker, network: BridgeNetwork): Promise<string> {
  let ongoing = creating.get(docker);
  if (!ongoing) creating.set(docker, (ongoing = new Map()));
  const running = ongoing.get(network.name);
  if (running) return running;
  const made = createBridgeNetwork(docker, network).finally(() => ongoing.delete(network.name));
  ongoing.set(network.name, made);
  return made;
}

async function createBridgeNetwork(docker: Docker, network: BridgeNetwork): Promise<string> {
  try {
    return (await docker.getNetwork(network.name).inspect()).Id as string;
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  const taken: Range[] = [];
  for (let attempt = 0; ; attempt++) {
    const used = [...(await usedRanges(docker)), ...taken];
    // The bridge name differs per node: two daemons on one host starting together pick apart.
    const subnet = pickSubnet(network.pool, used, network.bridge);
    if (!subnet)
      throw new Error(`no free /26 subnet left in ${network.pool} for network ${network.name} (GASPER_NETWORK_POOL)`);
    try {
      const created = await docker.createNetwork({
        Name: network.name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: network.labels,
        IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
        Options: { 'com.docker.network.bridge.name': network.bridge },
      });
      return created.id;
    } catch (err) {
      // Created by another process between our inspect and create: a 409 for its name, or a 403
      // when it took the same bridge name first.
      if (statusOf(err) === 409 || statusOf(err) === 403) {
        const existing = await docker
          .getNetwork(network.name)
          .inspect()
          .catch(() => undefined);
        if (existing) return existing.Id as string;
      }
      if (attempt < 8 && /overlap/i.test(String((err as Error).message))) {
        taken.push(cidrRange(subnet)!);
        continue;
      }
      throw err;
    }
  }
}

/** The network every container (instances and builds) of one app incarnation joins on this node. */
export function appNetwork(scope: DockerScope, app: string, uid: string, pool: string): BridgeNetwork {
  return {
    name: appNetworkName(scope.installation, app, uid),
    labels: {
      ...scopeLabels(scope),
      [containerLabels.role]: appNetworkRole,
      [containerLabels.app]: app,
      [appUidLabel]: uid,
    },
    bridge: bridgeName(scope.installation, appBridgeKey(scope.node, app, uid)),
    pool,
  };
}

/** This scope's app networks, optionally of one app: name, app and uid as their labels say. */
export async function listAppNetworks(
  docker: Docker,
  scope: DockerScope,
  app?: string,
): Promise<{ id: string; name: string; app: string; uid: string }[]> {
  const filter = scopeFilter(scope, {
    [containerLabels.role]: appNetworkRole,
    ...(app ? { [containerLabels.app]: app } : {}),
  });
  const networks = await docker.listNetworks({ filters: { label: filter } });
  return networks.map((n) => ({
    id: n.Id,
    name: n.Name,
    app: n.Labels?.[containerLabels.app] ?? '',
    uid: n.Labels?.[appUidLabel] ?? '',
  }));
}

/**
 * Removes a network that no container uses any more; false (left for a later try) while one still
 * does. Containers are never cut off here: their own removal comes first.
 */
export async function removeUnusedNetwork(docker: Docker, id: string): Promise<boolean> {
  try {
    await docker.getNetwork(id).remove();
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return true;
    if (statusOf(err) === 403 || /active endpoints|in use/i.test(String((err as Error).message))) return false;
    throw err;
  }
}

/** Disconnects every container still on the network (linked apps), then removes it. */
export async function removeNetwork(docker: Docker, name: string): Promise<void> {
  let info;
  try {
    info = await docker.getNetwork(name).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return;
    throw err;
  }
  const network = docker.getNetwork(info.Id);
  for (const container of Object.keys(info.Containers ?? {})) {
    await network.disconnect({ Container: container, Force: true }).catch((err: unknown) => {
      if (statusOf(err) !== 404) throw err;
    });
  }
  try {
    await network.remove();
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}

/** Joins a container to a network; already joined is fine. */
export async function connectNetwork(docker: Docker, network: string, container: string): Promise<void> {
  try {
    await docker.getNetwork(network).connect({ Container: container });
  } catch (err) {
    const message = String((err as Error).message);
    if (statusOf(err) === 403 && /already exists|already attached/i.test(message)) return;
    throw err;
  }
}
