import dns from 'node:dns';
import net from 'node:net';
import { ipv4String } from './networks.ts';

/**
 * Where a repository host may point. A tenant chooses the URL and the worker clones it from
 * inside the platform's network, so hosts that resolve to this machine, its private networks or
 * a cloud's metadata service are refused unless the operator allows local repositories
 * (GASPER_ALLOW_LOCAL_REPOS); metadata addresses are refused even then: no git server lives there.
 */
type AddressClass =
  | 'metadata'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'CGNAT'
  | 'unspecified'
  | 'multicast'
  | 'reserved';

const ranges: Array<[AddressClass, string, number, 'ipv4' | 'ipv6']> = [
  ['metadata', '169.254.169.254', 32, 'ipv4'],
  ['metadata', '169.254.170.2', 32, 'ipv4'],
  ['metadata', '100.100.100.200', 32, 'ipv4'],
  ['metadata', 'fd00:ec2::254', 128, 'ipv6'],
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['private', '198.18.0.0', 15, 'ipv4'],
  ['reserved', '192.0.0.0', 24, 'ipv4'],
  ['CGNAT', '100.64.0.0', 10, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  // IPv4-compatible addresses (deprecated): some stacks route them as the IPv4 address.
  ['reserved', '::', 96, 'ipv6'],
  ['private', 'fc00::', 7, 'ipv6'],
  ['private', 'fec0::', 10, 'ipv6'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['multicast', 'ff00::', 8, 'ipv6'],
];

// One list per class, checked in the order above (metadata before link-local, :: before ::/96).
const lists = new Map<AddressClass, net.BlockList>();
for (const [cls, address, prefix, family] of ranges) {
  if (!lists.has(cls)) lists.set(cls, new net.BlockList());
  lists.get(cls)!.addSubnet(address, prefix, family);
}

/** The class of an address that is not on the public internet; undefined for a public one. */
export function addressClass(address: string): AddressClass | undefined {
  const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
  if (!family) return undefined;
  // BlockList matches IPv4-mapped IPv6 (::ffff:127.0.0.1) against the IPv4 ranges.
  for (const [cls, list] of lists) if (list.check(address, family)) return cls;
  // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
  const nat64 = /^64:ff9b::([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(normalizeIpv6(address) ?? '');
  if (nat64) {
    const n = (parseInt(nat64[1]!, 16) << 16) | parseInt(nat64[2]!, 16);
    return addressClass(ipv4String(n));
  }
  return undefined;
}

function normalizeIpv6(address: string): string | undefined {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/**
 * An IPv4 address as the C library reads a host name (inet_aton): 1 to 4 parts, each decimal,
 * `0x` hex or `0` octal, the last filling the remaining bytes. So `2130706433`, `0x7f.1` and
 * `0177.0.0.1` are all 127.0.0.1 to git, and must be to this check too.
 */
export function looseIpv4(host: string): string | undefined {
  const parts = host.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0x[0-9a-f]*$/i.test(part)) value = part.length > 2 ? parseInt(part.slice(2), 16) : 0;
    else if (/^0[0-7]*$/.test(part)) value = parseInt(part, 8);
    else if (/^[1-9][0-9]*$/.test(part)) value = parseInt(part, 10);
    else return undefined;
    values.push(value);
  }
  const last = values.pop()!;
  if (values.some((v) => v > 255) || last >= 2 ** (8 * (4 - values.length))) return undefined;
  const n = values.reduce((acc, v, i) => acc + v * 2 ** (8 * (3 - i)), 0) + last;
  return ipv4String(n);
}

/** The address a host name is, when it is an address literal in any spelling git accepts. */
export function literalAddress(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (net.isIPv6(bare)) return bare;
  return looseIpv4(bare);
}

/** Why an address may not be cloned from, or undefined when it may. */
export function addressProblem(host: string, address: string, options: { allowLocal: boolean }): string | undefined {
  const cls = addressClass(address);
  if (!cls) return undefined;
  const kind = `${cls === 'metadata' ? 'cloud metadata' : cls} address`;
  // An address the user wrote (in any spelling) is shown; a name's address is not: it would give
  // a tenant a map of the internal network.
  const what = literalAddress(host)
    ? `host ${host === address ? address : `${host} (${address})`} is a ${kind}`
    : `host ${host} resolves to a ${kind}`;
  if (cls === 'metadata') return `${what}, never cloned from`;
  if (options.allowLocal) return undefined;
  return `${what}; repositories must be on the public internet (GASPER_ALLOW_LOCAL_REPOS allows others)`;
}

export type Lookup = (host: string) => Promise<string[]>;

/** Every address the system resolver gives for `host`, as git's getaddrinfo would see them. */
export const systemLookup: Lookup = async (host) =>
  (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Checks every address `host` resolves to. `onLookupError`: what an unresolvable host means —
 * the API lets it pass (the worker checks again when it clones; DNS may be down for a moment),
 * the worker refuses it.
 */
export async function hostProblem(
  host: string,
  options: { allowLocal: boolean; lookup?: Lookup; timeoutMs?: number; onLookupError: 'accept' | 'refuse' },
): Promise<string | undefined> {
  const literal = literalAddress(host);
  if (literal) return addressProblem(host, literal, options);
  let addresses: string[];
  try {
    addresses = await withTimeout((options.lookup ?? systemLookup)(host), options.timeoutMs ?? 5000);
  } catch {
    return options.onLookupError === 'accept' ? undefined : `could not resolve host ${host}`;
  }
  for (const address of addresses) {
    const problem = addressProblem(host, address, options);
    if (problem) return problem;
  }
  return undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
