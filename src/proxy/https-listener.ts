import type http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/log.ts';
import type { DomainCertificates } from './certificates.ts';
import type { PlatformCertificateHandle } from './platform-certificate.ts';
import { hostName } from './route-table.ts';
import { chooseCertificate, tlsPolicy } from './tls.ts';

export interface HttpsListenerDeps {
  platform: PlatformCertificateHandle | undefined;
  custom: DomainCertificates;
  /** The plain HTTP listener's handlers: one request path for both (routing, headers, retries, drain). */
  onRequest: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  onUpgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Session ticket keys shared by every proxy (ticket-keys.ts). */
  ticketKeys: Buffer | undefined;
  log: Logger;
}

/**
 * The HTTPS server: HTTP/1.1 over TLS, its certificate chosen per handshake by SNI from contexts
 * prepared on route changes and file reloads (a map look-up per handshake, nothing parsed).
 */
export function createHttpsServer(deps: HttpsListenerDeps): https.Server {
  const { platform, custom, log } = deps;
  const server = https.createServer({
    ...tlsPolicy,
    // A client that opens a connection and never finishes its handshake holds a socket: 10 s, not Node's 120 s.
    handshakeTimeout: 10_000,
    // Clients without SNI (an IP address in the URL) get the platform certificate, if any.
    ...(platform ? platform.pem() : {}),
    // OpenSSL seals tickets with the keys of the first context, whichever one SNI then picks.
    ...(deps.ticketKeys ? { ticketKeys: deps.ticketKeys } : {}),
    SNICallback(servername, callback) {
      const name = hostName(servername);
      const choice = chooseCertificate(name, { custom: (n) => custom.has(n), platform: platform !== undefined });
      if (choice === 'custom') return callback(null, custom.get(name));
      if (choice === 'platform') return callback(null, platform!.current().context);
      callback(new Error(`no certificate for ${servername}`));
    },
  });
  server.on('request', deps.onRequest);
  server.on('upgrade', deps.onUpgrade);
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.keepAliveTimeout = 65_000;
  return server;
}
