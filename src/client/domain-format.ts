/** What `gasper domains` prints. Pure: tested in test/client/domain-format.unit.test.ts. */
import { type Json, table } from './format.ts';

/** A date as `2027-03-01 12:00 UTC`, or `-`. */
export function shortDate(iso: unknown): string {
  if (typeof iso !== 'string') return '-';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The problem a user should read for a domain, in words: the issuance error, else a failed
 * renewal's. Each ends with when Gasper tries again (the certificates service writes it).
 */
export function domainProblem(domain: Json): string {
  if (domain.lastError) return domain.lastError;
  if (domain.renewalError) return `renewal failed, the current certificate still serves: ${domain.renewalError}`;
  return '-';
}

/** `gasper domains list`: one row per domain, the error last so that it may run long. */
export function domainRows(domains: Json[]): string {
  return table(
    ['DOMAIN', 'STATUS', 'ISSUER', 'NOT AFTER', 'ERROR'],
    domains.map((d) => [d.domain, d.status, d.issuer ?? '-', shortDate(d.notAfter), domainProblem(d)]),
  );
}

/**
 * `gasper apps https`: where `redirect` applies (the proxy redirects only names a certificate
 * covers, never to a handshake that would fail), or why it does not yet; nothing for `allow`.
 */
export function redirectNote(https: string, covered: readonly string[]): string {
  if (https !== 'redirect') return '';
  if (covered.length) return ` (plain HTTP to ${covered.join(', ')} is redirected)`;
  return (
    ' (not in effect yet: no name of the app has a certificate, so plain HTTP is still served; it starts with ' +
    'the platform certificate, GASPER_TLS_CERT, or once a custom domain is issued)'
  );
}

/**
 * What to do after `gasper domains add`: the TXT record that proves the name is yours (when
 * asked), the DNS records to create, then how the certificate comes (or that none will: ACME off).
 */
export function nextSteps(
  app: string,
  domain: string,
  dns: Json | undefined,
  added?: Json,
  certificates: 'automatic' | 'off' = 'automatic',
): string {
  const records: Json[] = dns?.records ?? [];
  const lines = [`${domain} added to ${app} (pending).`, ''];
  const proof = added?.verification;
  if (proof && !proof.verifiedAt) {
    lines.push(
      'First: prove the name is yours with this TXT record at your DNS provider; until Gasper sees it,',
      `${domain} is not routed to ${app} and no certificate is ordered:`,
      table(['NAME', 'TYPE', 'VALUE'], [[`  ${proof.name}.`, 'TXT', proof.value]]),
      '',
    );
  }
  lines.push('Next: point the name at Gasper with DNS records at your DNS provider:');
  if (records.length)
    lines.push(
      table(
        ['NAME', 'TYPE', 'VALUE'],
        records.map((r) => [`  ${r.name}.`, r.type, r.value]),
      ),
    );
  else lines.push("  A/AAAA records for the addresses Gasper's proxy is reachable on (GASPER_DNS_PROXY_ADDRESSES)");
  if (dns?.cname) lines.push(`  or, if ${domain} is not the apex of its zone: ${domain}. CNAME ${dns.cname.value}.`);
  if (certificates === 'off')
    lines.push(
      '',
      'Automatic certificates are off on this platform (GASPER_ACME): the name is served over HTTP, and',
      'over HTTPS only with a certificate an administrator provides.',
    );
  else
    lines.push(
      '',
      `The certificate is issued automatically once ${proof && !proof.verifiedAt ? 'the TXT record is seen and ' : ''}the name resolves here (the CA checks`,
      `http://${domain}/.well-known/acme-challenge/…, so port 80 must be reachable); failed attempts are retried.`,
    );
  lines.push(`Watch it: gasper domains list ${app}   (or add --wait to follow here)`);
  return lines.join('\n');
}
