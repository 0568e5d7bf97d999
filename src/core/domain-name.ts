import net from 'node:net';
import { domainToASCII } from 'node:url';

/**
 * Custom domain names: what a user may type and the one form Gasper stores. Pure, table-tested
 * (test/core/domain-name.unit.test.ts).
 *
 * Choices: case does not matter (stored lowercase); an internationalized name is accepted and
 * stored in its ASCII (punycode, `xn--`) form, the form DNS, the CA and the TLS SNI use; one
 * trailing dot (the fully qualified form) is dropped; wildcards are refused (HTTP-01, the only
 * challenge Gasper answers, cannot prove one); IP addresses are refused (a public CA does not
 * certify them for HTTP-01 here, and a name is what DNS must point).
 */
export type DomainNameCheck = { ok: true; domain: string } | { ok: false; problem: string };

const label = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function checkDomainName(input: string): DomainNameCheck {
  const fail = (problem: string): DomainNameCheck => ({ ok: false, problem });
  if (input.length === 0) return fail('must not be empty');
  if (/\s/.test(input)) return fail('must not contain spaces');
  if (input.includes('://') || input.includes('/'))
    return fail('must be a host name only, without scheme or path (e.g. shop.example.com)');
  const bare = input.replace(/^\[|\]$/g, '');
  if (net.isIP(bare) || net.isIP(input)) return fail('must be a DNS name, not an IP address');
  if (input.includes(':')) return fail('must be a host name only, without a port');
  if (input.includes('*'))
    return fail(
      'wildcards are not supported: add each name (certificates are proven over HTTP-01, one name at a time)',
    );
  const name = input.endsWith('.') ? input.slice(0, -1) : input;
  // Before the conversion: WHATWG's host parser takes a name ending in digits for an IPv4 address.
  if (/(^|\.)[0-9]+$/.test(name) && !net.isIP(name)) return fail('must not end with an all-digit label');
  const ascii = domainToASCII(name);
  if (!ascii) return fail('is not a valid host name (an internationalized name must convert to punycode)');
  if (net.isIP(ascii)) return fail('must be a DNS name, not an IP address');
  if (ascii.length > 253) return fail('must be at most 253 characters (in its ASCII form)');
  const labels = ascii.split('.');
  if (labels.length < 2) return fail('must have at least two labels (e.g. shop.example.com)');
  for (const part of labels) {
    if (part.length === 0) return fail('must not have empty labels (two dots in a row, or a leading dot)');
    if (part.length > 63) return fail(`label "${part.slice(0, 20)}…" is longer than 63 characters`);
    if (!label.test(part)) return fail(`label "${part}" may hold only letters, digits and inner hyphens`);
  }
  return { ok: true, domain: ascii };
}

/**
 * Why a (checked) domain cannot be added because it lies in the platform's own zone, or
 * undefined: every app already answers at `<app>.<zone>`, served by the platform certificate.
 */
export function platformZoneProblem(domain: string, zone: string): string | undefined {
  const apex = zone.toLowerCase().replace(/\.$/, '');
  if (domain !== apex && !domain.endsWith(`.${apex}`)) return undefined;
  return `"${domain}" is in the platform's own domain ${apex}: every app already answers at <app>.${apex}, no custom domain needed`;
}

/** Why a (checked) domain cannot be added because it is the platform's own host (its API, dashboard), or undefined. */
export function platformHostProblem(domain: string, platformHost: string | undefined): string | undefined {
  if (!platformHost) return undefined;
  if (domain !== platformHost.toLowerCase().replace(/\.$/, '')) return undefined;
  return `"${domain}" is the platform's own host (GASPER_PLATFORM_HOST): it serves Gasper's API and dashboard, never an app`;
}
