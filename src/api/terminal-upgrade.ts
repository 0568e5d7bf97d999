import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from '../core/log.ts';
import { terminalSocketPath } from '../ssh/terminal-protocol.ts';

const unreachable = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);

export interface TerminalUpgradeHandle {
  onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Cuts the forwarded sockets: the HTTP server's close does not see upgraded connections. */
  close(): void;
}

/**
 * The dashboard's web-terminal WebSocket reaches the SSH service through the API: the browser
 * only knows the API's origin (directly, or the platform host on the proxy, which forwards
 * upgrades), and the CSP keeps its connections there. The API passes `/terminal` upgrades on,
 * bytes untouched, to the terminal listener at `upstream` (GASPER_TERMINAL_UPSTREAM); the ticket
 * in the subprotocol header is the SSH service's to check, so the API neither reads nor logs it.
 * Any other upgrade is a 404.
 */
export function terminalUpgrades(upstream: string | undefined, log: Logger): TerminalUpgradeHandle {
  const proxy = createProxyServer({ ws: true, xfwd: false });
  const sockets = new Set<Duplex>();
  proxy.on('error', (err, _req, socket) => {
    // The same event reports the browser going away mid-session (a reset tab): only a failed
    // connection to the SSH service is worth a warning.
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (unreachable.has(code))
      log.warn({ err: err.message, upstream }, 'web terminal: the SSH service is not reachable');
    else log.debug({ err: err.message }, 'web terminal connection error');
    if (socket && 'destroy' in socket) {
      const s = socket as Duplex;
      if (s.writable) s.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else s.destroy();
    }
  });
  return {
    onUpgrade(req, socket, head) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const path = (req.url ?? '').split('?')[0];
      if (path !== terminalSocketPath || !upstream) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      proxy.ws(req, socket, head, { target: `http://${upstream}` });
    },
    close() {
      for (const socket of sockets) socket.destroy();
    },
  };
}
