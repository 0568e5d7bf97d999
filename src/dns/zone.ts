import net from 'node:net';
import type { GasperEvent } from '../events/schemas.ts';

/**
 * The zone Gasper is authoritative for, and the answer to one question about it. Pure: no
 * sockets, no dns2, no clock (callers pass the time). Tested with tables in
 * test/dns/zone.unit.test.ts; the fast path (answer-cache.ts) and the dns2 responder both ask it.
 */

export const RRType = { A: 1, NS: 2, SOA: 6, AAAA: 28, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const RRClass = { IN: 1, ANY: 255 } as const;
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** What the zone is made of besides the apps and databases. */
export interface ZoneConfig {
  /** The zone apex, lowercase, no trailing dot (GASPER_DOMAIN). */
  apex: string;
  /** TTL of every record, and the negative-caching TTL (SOA minimum), in seconds. */
  ttl: number;
  /** NS names of the apex; the first is the SOA's primary. */
  nameservers: readonly string[];
  /** IPv4 and IPv6 addresses `<app>.<zone>` resolves to: where the proxy listens. */
  proxyAddresses: readonly string[];
  /** Addresses of the NS names that lie inside the zone (glue for a delegation). */
  nsAddresses: readonly string[];
}

/** A zone: its configuration plus what the state events say exists. */
export interface Zone extends ZoneConfig {
  apps: Set<string>;
  /** Database name → address of the node that hosts it. */
  databases: Map<string, string>;
  /** SOA serial: bumped on every change (seconds since the epoch, or one more than before). */
  serial: number;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

interface RecordBase {
  name: string;
  class: number;
  ttl: number;
}
/** Resource records in the shape dns2 encodes (its field names), so no translation is needed. */
export type ResourceRecord =
  | (RecordBase & { type: typeof RRType.A | typeof RRType.AAAA; address: string })
  | (RecordBase & { type: typeof RRType.NS; ns: string })
  | (RecordBase & {
      type: typeof RRType.SOA;
      primary: string;
      admin: string;
      serial: number;
      refresh: number;
      retry: number;
      expiration: number;
      minimum: number;
    });

export interface QueryAnswer {
  rcode: number;
  /** The AA flag: set for every name inside the zone, clear for a refusal. */
  authoritative: boolean;
  answers: ResourceRecord[];
  authority: ResourceRecord[];
}

export function createZone(config: ZoneConfig, nowSeconds: number): Zone {
  return {
    ...config,
    apex: config.apex.toLowerCase().replace(/\.$/, ''),
    apps: new Set(),
    databases: new Map(),
    serial: nowSeconds >>> 0,
  };
}

/**
 * Folds one state event into the zone. Returns whether the zone changed (and then its serial
 * moved on): callers drop cached answers only then.
 */
export function applyEvent(zone: Zone, event: GasperEvent, nowSeconds: number): boolean {
  let changed = false;
  switch (event.type) {
    case 'app.instances':
      changed = !zone.apps.has(event.app);
      zone.apps.add(event.app);
      break;
    case 'app.removed':
      changed = zone.apps.delete(event.app);
      break;
    case 'database.state':
      changed = zone.databases.get(event.database) !== event.address;
      zone.databases.set(event.database, event.address);
      break;
    case 'database.removed':
      changed = zone.databases.delete(event.database);
      break;
  }
  if (changed) zone.serial = Math.max((zone.serial + 1) >>> 0, nowSeconds >>> 0);
  return changed;
}

export function soaRecord(zone: Zone): ResourceRecord {
  return {
    name: zone.apex,
    type: RRType.SOA,
    class: RRClass.IN,
    ttl: zone.ttl,
    primary: zone.nameservers[0] ?? zone.apex,
    admin: `hostmaster.${zone.apex}`,
    serial: zone.serial,
    refresh: 3600,
    retry: 600,
    expiration: 86400,
    minimum: zone.ttl,
  };
}

function addressRecords(name: string, addresses: readonly string[], ttl: number): ResourceRecord[] {
  return addresses.map((address) => ({
    name,
    type: net.isIPv6(address) ? RRType.AAAA : RRType.A,
    class: RRClass.IN,
    ttl,
    address,
  }));
}

/**
 * Every record of `name` (lowercase, inside the zone), [] for an empty non-terminal, or undefined when no
 * such name exists.
 */
export function recordsAt(name: string, zone: Zone): ResourceRecord[] | undefined {
  const { apex, ttl } = zone;
  if (name === apex) {
    return [
      soaRecord(zone),
      ...zone.nameservers.map((ns): ResourceRecord => ({ name, type: RRType.NS, class: RRClass.IN, ttl, ns })),
    ];
  }
  if (zone.nameservers.includes(name)) return addressRecords(name, zone.nsAddresses, ttl);
  const relative = name.slice(0, name.length - apex.length - 1);
  if (relative === 'db') return zone.databases.size > 0 ? [] : undefined; // `db` is reserved: never an app
  if (!relative.includes('.'))
    return zone.apps.has(relative) ? addressRecords(name, zone.proxyAddresses, ttl) : undefined;
  const database = relative.endsWith('.db') ? relative.slice(0, -3) : '';
  if (database && !database.includes('.')) {
    const address = zone.databases.get(database);
    return address === undefined ? undefined : addressRecords(name, [address], ttl);
  }
  return undefined;
}

export function isInZone(name: string, apex: string): boolean {
  return name === apex || (name.endsWith(apex) && name.charCodeAt(name.length - apex.length - 1) === 46) /* . */;
}

/**
 * The answer to one question: REFUSED outside the zone (no open resolver), NXDOMAIN with the SOA
 * in the authority section for unknown names, NOERROR without data (and the SOA, for negative
 * caching) for other types of known names. Zone transfers are refused: the zone lives in the
 * event stream, and every Gasper DNS server follows it itself.
 */
export function answerQuery(question: Question, zone: Zone): QueryAnswer {
  const name = question.name.toLowerCase().replace(/\.$/, '');
  const transfer = question.type === RRType.AXFR || question.type === RRType.IXFR;
  if (transfer || !isInZone(name, zone.apex) || (question.class !== RRClass.IN && question.class !== RRClass.ANY)) {
    return { rcode: Rcode.REFUSED, authoritative: false, answers: [], authority: [] };
  }
  const records = recordsAt(name, zone);
  if (!records) return { rcode: Rcode.NXDOMAIN, authoritative: true, answers: [], authority: [soaRecord(zone)] };
  const answers = question.type === RRType.ANY ? records : records.filter((r) => r.type === question.type);
  if (answers.length === 0)
    return { rcode: Rcode.NOERROR, authoritative: true, answers: [], authority: [soaRecord(zone)] };
  return { rcode: Rcode.NOERROR, authoritative: true, answers, authority: [] };
}
