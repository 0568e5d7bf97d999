import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';

/**
 * The upstream both proxies sit in front of (run as a role in a child process): a node:http
 * server answering `body` to every request, keeping connections alive. Reports its port to the
 * parent, and on the message 'stats' the TCP connections it has accepted.
 */
export async function runUpstream(body: string): Promise<void> {
  const bytes = Buffer.from(body);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': bytes.length });
    res.end(bytes);
  });
  server.keepAliveTimeout = 120_000;
  let accepted = 0;
  server.on('connection', () => accepted++);
  process.on('message', (m) => {
    if (m === 'stats') process.send!({ accepted });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send!({ port: (server.address() as net.AddressInfo).port });
}

/** TCP connections the upstream child has accepted so far. */
export function upstreamAccepted(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown) => {
      if (m && typeof m === 'object' && 'accepted' in m) {
        child.off('message', onMessage);
        resolve((m as { accepted: number }).accepted);
      }
    };
    child.on('message', onMessage);
    child.send('stats');
  });
}
