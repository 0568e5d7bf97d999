/** Where `gasper up` (or one service) listens, as the start-up line says it. */
export interface UpSummary {
  domain: string;
  api?: number;
  proxy?: number;
  httpsPort?: number;
  /** Whether the platform certificate (`*.<domain>`) is configured: only then are apps on https. */
  platformCertificate: boolean;
  dns?: number;
}

/**
 * The one line that says the platform is up and where to go. Apps are announced on https only
 * with the platform certificate: without it, the HTTPS listener serves issued custom domains
 * alone, and an `https://<app>.<domain>` address would fail its handshake.
 */
export function upMessage(s: UpSummary): string {
  const parts: string[] = [];
  if (s.api !== undefined) parts.push(`API on :${s.api}`);
  if (s.proxy !== undefined) {
    const https =
      s.httpsPort === undefined
        ? ''
        : s.platformCertificate
          ? ` and https://<app>.${s.domain}:${s.httpsPort}`
          : ` (HTTPS on :${s.httpsPort} for custom domains only: no platform certificate, GASPER_TLS_CERT)`;
    parts.push(`apps at http://<app>.${s.domain}:${s.proxy}${https}`);
  }
  if (s.dns !== undefined) parts.push(`DNS on :${s.dns}`);
  return `gasper is up${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
