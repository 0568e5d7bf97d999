import net from 'node:net';
import type { FuzzRequest } from './requests.ts';

/** How one request ended: a status, or why there was none. */
export interface RawOutcome {
  status?: number;
  /** `timeout` (no answer in time), a socket error code, or `closed` (no status line). */
  failure?: string;
  /** The head and the start of the body, for 5xx answers (to say what broke). */
  text?: string;
}

/**
 * Sends a request exactly as given (no client-side checks of the target or the headers, which
 * node's http client would refuse), over its own connection, and waits for the status line and
 * headers at most `timeoutMs`. A body is written while the answer is read, so a server that
 * answers early (413) is heard even if it then closes the connection. The client never
 * half-closes: Node's HTTP server (without `httpAllowHalfOpen`) takes a FIN from the client as
 * an aborted request, and browsers and HTTP clients do not send one before the answer.
 */
export function sendRaw(port: number, request: FuzzRequest, timeoutMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let done = false;
    let status: number | undefined;
    const finish = (outcome: RawOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ failure: 'timeout', ...(status !== undefined ? { status } : {}) }),
      timeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      if (received.length < 64 * 1024) received = Buffer.concat([received, chunk]);
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received.toString('latin1', 0, 16));
      if (!match) return finish({ failure: 'not HTTP', text: received.toString('latin1', 0, 200) });
      status = Number(match[1]);
      // Below 500 the status is all that counts (a follow never ends); a 5xx is read on a moment, to show its body.
      if (status < 500) finish({ status });
      else setTimeout(() => finish({ status, text: received.toString('utf8', 0, 4000) }), 200);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (status !== undefined) finish({ status, text: received.toString('utf8', 0, 4000) });
      else finish({ failure: err.code ?? err.message });
    });
    socket.on('close', () =>
      finish(status !== undefined ? { status, text: received.toString('utf8', 0, 4000) } : { failure: 'closed' }),
    );
    socket.on('connect', () => {
      const lines = [`${request.method} ${request.target} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
      for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
      const body = request.body;
      if (body !== undefined)
        lines.push(request.chunked ? 'transfer-encoding: chunked' : `content-length: ${body.length}`);
      socket.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
      if (body === undefined) return;
      if (!request.chunked) {
        socket.write(body);
        return;
      }
      for (let offset = 0; offset < body.length; offset += 64 * 1024) {
        const part = body.subarray(offset, offset + 64 * 1024);
        socket.write(`${part.length.toString(16)}\r\n`);
        socket.write(part);
        socket.write('\r\n');
      }
      socket.write('0\r\n\r\n');
    });
  });
}
