import { Resolver } from 'node:dns/promises';
import type { CertificateFailure } from './retry-plan.ts';

/**
 * Before asking the CA, check that the domain resolves to the proxy, so a user who has not set
 * DNS up yet gets "points to X, should point to Y" rather than the CA's connection error, and no
 * failed validation counts against the CA's limits.
 */

/** Why the addresses found are not the proxy's (undefined when they are). Pure. */
export function dnsMismatch(found: readonly string[], expected: readonly string[]): CertificateFailure | undefined {
  const normal = (a: string) => a.toLowerCase();
  const want = expected.map(normal);
  const got = [...new Set(found.map(normal))].sort();
  if (got.length > 0 && got.every((a) => want.includes(a))) return undefined;
  return { kind: 'dns', found: got, expected: [...want] };
}

/** Codes that mean "no such record", as opposed to a lookup that failed. */
const noRecord = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

/**
 * The domain's A and AAAA addresses through Node's resolver (the system's servers, or `servers`:
 * `host:port` strings, for a private DNS such as the tests' mock).
 */
export async function resolveAddresses(
  domain: string,
  servers?: readonly string[],
): Promise<{ addresses: string[] } | { lookupError: string }> {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  if (servers?.length) resolver.setServers([...servers]);
  const results = await Promise.allSettled([resolver.resolve4(domain), resolver.resolve6(domain)]);
  const addresses: string[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') addresses.push(...result.value);
    else {
      const code = (result.reason as NodeJS.ErrnoException).code ?? 'ERROR';
      if (!noRecord.has(code)) return { lookupError: code };
    }
  }
  return { addresses };
}

/** Why the TXT values found do not prove ownership (undefined when one is the token). Pure. */
export function verificationMismatch(
  record: string,
  token: string,
  found: readonly string[],
): CertificateFailure | undefined {
  const values = found.map((v) => v.trim());
  if (values.includes(token)) return undefined;
  return { kind: 'verification', record, token, found: values };
}

/**
 * The ownership check: the TXT record `record` must hold `token` (looked up through `servers`, as the A/AAAA
 * check).
 */
export async function checkVerification(
  record: string,
  token: string,
  servers?: readonly string[],
): Promise<CertificateFailure | undefined> {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  if (servers?.length) resolver.setServers([...servers]);
  try {
    // A TXT record's value may come split in strings of at most 255 bytes: joined, it is one value.
    const records = await resolver.resolveTxt(record);
    return verificationMismatch(
      record,
      token,
      records.map((parts) => parts.join('')),
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'ERROR';
    if (noRecord.has(code)) return verificationMismatch(record, token, []);
    return { kind: 'verification', record, token, found: [], lookupError: code };
  }
}

/** The DNS check: undefined when the domain points to the proxy only. */
export async function checkDns(
  domain: string,
  expected: readonly string[],
  servers?: readonly string[],
): Promise<CertificateFailure | undefined> {
  const resolved = await resolveAddresses(domain, servers);
  if ('lookupError' in resolved) {
    return { kind: 'dns', found: [], expected: [...expected], lookupError: resolved.lookupError };
  }
  return dnsMismatch(resolved.addresses, expected);
}
