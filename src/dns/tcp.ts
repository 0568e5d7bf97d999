import net from 'node:net';
import type { Logger } from '../core/log.ts';

export interface DnsTcpOptions {
  /** Idle connections are closed after this long (RFC 7766 §6.2.3 suggests seconds). */
  idleTimeoutMs: number;
  /** Connections open at once; more are refused until some close. */
  maxConnections: number;
}

/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): two-byte length-prefixed messages, pipelined,
 * answered in order on the same connection. `answer` returns the response bytes or undefined
 * to drop the message; a dropped message closes its connection, since a client waiting on it
 * would otherwise hang until its timeout. Framing is hand-written rather than dns2's TCP server
 * because dns2 parses every message before any check can run (see packets.ts plausibleCounts).
 */
export function createDnsTcpServer(
  answer: (message: Buffer) => Buffer | undefined,
  options: DnsTcpOptions,
  log: Logger,
): { server: net.Server; destroyConnections(): void } {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let buffered: Buffer = Buffer.alloc(0);
    socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
    socket.on('error', (err) => log.debug({ err: err.message }, 'tcp connection error'));
    socket.on('end', () => socket.end());
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        let response: Buffer | undefined;
        try {
          response = answer(message);
        } catch (err) {
          log.debug({ err: (err as Error).message }, 'dropped a TCP message that could not be answered');
        }
        if (!response) {
          socket.destroy();
          return;
        }
        const prefix = Buffer.allocUnsafe(2);
        prefix.writeUInt16BE(response.length, 0);
        socket.write(Buffer.concat([prefix, response]));
      }
    });
  });
  server.maxConnections = options.maxConnections;
  return {
    server,
    destroyConnections() {
      for (const socket of sockets) socket.destroy();
    },
  };
}
