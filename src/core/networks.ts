/**
 * Names, bridges and subnets of the Docker networks Gasper creates. Pure: unit-tested in
 * test/core/networks.unit.test.ts.
 *
 * Every app has a bridge network of its own (its instances and its builds), and every database
 * one (the database and the apps linked to it). Docker keeps traffic between two bridge networks
 * apart, so one tenant's container never reaches another app's container address; the proxy
 * reaches instances at their published host ports, as before.
 *
 * Each network's bridge interface is named `g<installation><6 characters>` (15 characters, the
 * kernel's limit), so one `-i g<installation>+` iptables match covers every container of one
 * installation on a host (workers/node/app-firewall.ts), and another installation's bridges are not
 * matched.
 */
import crypto from 'node:crypto';

/** Label on an app network: the app's incarnation (its `uid`), so a later app of the same name is another network. */
export const appUidLabel = 'io.gasper.app-uid';
/** Label value of `io.gasper.role` on app networks. */
export const appNetworkRole = 'app-network';

/** The network of one app incarnation on a node. */
export function appNetworkName(installation: string, app: string, uid: string): string {
  return `gasper-${installation}-app-${app}-${uid}`;
}

/** Every bridge of an installation starts with this (an interface match `g<installation>+`). */
export function bridgePrefix(installation: string): string {
  return `g${installation}`;
}

/** The bridge interface of a network: the installation's prefix and 6 base-36 characters of a hash of `key`. */
export function bridgeName(installation: string, key: string): string {
  const digest = crypto.createHash('sha256').update(key).digest();
  const tail = (digest.readUIntBE(0, 6) % 36 ** 6).toString(36).padStart(6, '0');
  return `${bridgePrefix(installation)}${tail}`;
}

/**
 * The key an app network's bridge name is hashed from. It holds the node: two nodes' daemons on
 * one host (an app spread over both) create bridges in one kernel, whose interface names must differ.
 */
export const appBridgeKey = (node: string, app: string, uid: string) => `app:${node}:${app}:${uid}`;
/** The key a database network's bridge name is hashed from (with the node, as for apps). */
export const databaseBridgeKey = (node: string, name: string, uid: string) => `db:${node}:${name}:${uid}`;

/** An IPv4 range as [first, last] address numbers. */
export type Range = readonly [number, number];

const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** `10.1.2.3` → its number, or undefined when it is no IPv4 address. */
export function ipv4Number(address: string): number | undefined {
  const m = ipv4.exec(address);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function ipv4String(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `10.210.0.0/16` → its range, or undefined when it is no IPv4 CIDR (IPv6 subnets are not Gasper's concern). */
export function cidrRange(cidr: string): Range | undefined {
  const [address, bits] = cidr.split('/');
  const base = ipv4Number(address ?? '');
  const size = Number(bits);
  if (base === undefined || !Number.isInteger(size) || size < 0 || size > 32) return undefined;
  const span = 2 ** (32 - size);
  const first = base - (base % span);
  return [first, first + span - 1];
}

/**
 * Prefix length of the subnet each network gets: 64 addresses (61 containers), room for an app's instances, a
 * rollout's and a build.
 */
export const networkPrefix = 26;

/** Why `cidr` cannot be the pool networks' subnets are taken from, or undefined when it can. */
export function networkPoolProblem(cidr: string): string | undefined {
  const range = cidrRange(cidr);
  if (!range || !cidr.includes('/')) return 'must be an IPv4 CIDR such as 10.210.0.0/16';
  if (Number(cidr.split('/')[1]) > networkPrefix) return `must be a /${networkPrefix} or larger`;
  return undefined;
}

const overlaps = (a: Range, b: Range) => a[0] <= b[1] && b[0] <= a[1];

/**
 * A free /26 of `pool` for a new network: the first one, starting at a place derived from `key`
 * (so concurrent creations rarely race for the same one), that overlaps no subnet in `used`
 * (Docker's networks and the host's routes). Undefined when the pool is full.
 */
export function pickSubnet(pool: string, used: readonly Range[], key: string): string | undefined {
  const range = cidrRange(pool);
  if (!range) return undefined;
  const span = 2 ** (32 - networkPrefix);
  const count = (range[1] - range[0] + 1) / span;
  const start = crypto.createHash('sha256').update(key).digest().readUInt32BE(0) % count;
  for (let i = 0; i < count; i++) {
    const first = range[0] + ((start + i) % count) * span;
    const block: Range = [first, first + span - 1];
    if (!used.some((u) => overlaps(u, block))) return `${ipv4String(first)}/${networkPrefix}`;
  }
  return undefined;
}

/**
 * Destinations of the host's IPv4 routing table (`/proc/net/route`: little-endian hex) other than
 * the default route: a subnet routed elsewhere (another Docker daemon's bridge, a VPN, the LAN)
 * must not be given to a network.
 */
export function routedRanges(procNetRoute: string): Range[] {
  const ranges: Range[] = [];
  for (const line of procNetRoute.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const destination = Buffer.from(fields[1]!, 'hex').readUInt32LE(0);
    const mask = Buffer.from(fields[7]!, 'hex').readUInt32LE(0);
    if (mask === 0) continue;
    const bits = mask.toString(2).replace(/0/g, '').length;
    const range = cidrRange(`${ipv4String(destination)}/${bits}`);
    if (range) ranges.push(range);
  }
  return ranges;
}
