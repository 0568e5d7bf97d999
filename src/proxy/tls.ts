import crypto from 'node:crypto';
import tls from 'node:tls';
import { hostName } from './route-table.ts';

/**
 * The HTTPS listener's TLS policy: TLS 1.2 and 1.3 only, and for TLS 1.2 only forward-secret
 * AEAD suites (Mozilla's "intermediate" list). TLS 1.3 suites are all modern: OpenSSL's defaults.
 */
export const tlsPolicy = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  // HTTP/1.1 only (see docs/guides/domains.md: HTTP/2 would go through Node's compatibility layer).
  ALPNProtocols: ['http/1.1'],
} as const satisfies tls.SecureContextOptions & { ALPNProtocols: string[] };

/** A certificate chain and its key, checked to belong together, ready for a TLS server. */
export interface LoadedCertificate {
  context: tls.SecureContext;
  /** The leaf certificate's SHA-256 fingerprint (logs, tests). */
  fingerprint: string;
  subjectAltName: string;
  /** The DNS names it is valid for, lowercase (`*.example.com` as written): see `certificateCovers`. */
  names: string[];
  notAfter: string;
}

/** The DNS names of a certificate's subjectAltName (`DNS:a.example, DNS:*.example, IP Address:…`). */
export function dnsNames(subjectAltName: string): string[] {
  return subjectAltName
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase().replace(/\.$/, ''));
}

/**
 * Whether a certificate's names cover a host name as a browser checks it: the same name, or a
 * wildcard `*.<parent>` for exactly one label below `<parent>` (`*.example.com` covers
 * `shop.example.com`, neither `example.com` nor `a.b.example.com`).
 */
export function certificateCovers(names: readonly string[], name: string): boolean {
  const host = hostName(name);
  if (!host) return false;
  const dot = host.indexOf('.');
  const parent = dot > 0 ? host.slice(dot + 1) : undefined;
  return names.some((n) => n === host || (parent !== undefined && n.startsWith('*.') && n.slice(2) === parent));
}

/**
 * Builds the secure context of a PEM chain and key under the TLS policy. Throws an error saying
 * what is wrong (not a certificate, not a key, the key is not the certificate's).
 */
export function loadCertificate(certPem: string, keyPem: string): LoadedCertificate {
  let leaf: crypto.X509Certificate;
  try {
    leaf = new crypto.X509Certificate(certPem);
  } catch (err) {
    throw new Error(`not a PEM certificate (${(err as Error).message})`);
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(`not a PEM private key (${(err as Error).message})`);
  }
  if (!leaf.checkPrivateKey(key)) throw new Error("the private key is not the certificate's");
  return {
    context: tls.createSecureContext({ cert: certPem, key: keyPem, ...tlsPolicy }),
    fingerprint: leaf.fingerprint256,
    subjectAltName: leaf.subjectAltName ?? '',
    names: dnsNames(leaf.subjectAltName ?? ''),
    notAfter: new Date(leaf.validTo).toISOString(),
  };
}

export type CertificateChoice = 'custom' | 'platform' | 'none';

/**
 * Which certificate answers a TLS handshake for `servername` (SNI): a custom domain's own, else
 * the platform certificate (`*.<domain>` and `<domain>`, and the default for names it does not
 * cover, as a web server's default certificate is), else none (the handshake fails).
 */
export function chooseCertificate(
  servername: string,
  has: { custom(name: string): boolean; platform: boolean },
): CertificateChoice {
  const name = hostName(servername);
  if (name && has.custom(name)) return 'custom';
  return has.platform ? 'platform' : 'none';
}
