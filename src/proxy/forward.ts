import http from 'node:http';
import type { Socket } from 'node:net';
import type { Upstream } from './route-table.ts';

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1). */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Builds upstream request headers from the raw header list (cheaper than the parsed object,
 * and it keeps repeated headers), dropping hop-by-hop ones and those named in `Connection`,
 * and appending the X-Forwarded-* set.
 */
export function forwardHeaders(req: http.IncomingMessage, clientIp: string, proto: string): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  const named = namedInConnection(req.headers.connection);
  let forwardedFor: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (hopByHop.has(lower) || named?.has(lower)) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor ? `${forwardedFor}, ${raw[i + 1]}` : raw[i + 1];
      continue;
    }
    if (lower === 'x-forwarded-proto' || lower === 'x-forwarded-host' || lower === 'x-forwarded-port') continue;
    out.push(name, raw[i + 1]!);
  }
  const host = req.headers.host ?? '';
  out.push(
    'X-Forwarded-For',
    forwardedFor ? `${forwardedFor}, ${clientIp}` : clientIp,
    'X-Forwarded-Proto',
    proto,
    'X-Forwarded-Host',
    host,
  );
  return out;
}

/** Headers a `Connection` header declares hop-by-hop; undefined for the common plain values. */
function namedInConnection(connection: string | undefined): Set<string> | undefined {
  if (!connection || connection === 'keep-alive' || connection === 'close') return undefined;
  return new Set(
    connection
      .toLowerCase()
      .split(',')
      .map((s) => s.trim()),
  );
}

/** Response headers back to the client, minus hop-by-hop ones and those named in `Connection`. */
export function responseHeaders(res: http.IncomingMessage): string[] {
  const raw = res.rawHeaders;
  const out: string[] = [];
  const named = namedInConnection(res.headers.connection);
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (!hopByHop.has(lower) && !named?.has(lower)) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

export function clientAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export type ForwardError = 'unreachable' | 'timeout' | 'aborted';

/** Where and how one request is forwarded. */
export interface ForwardOptions {
  upstream: Upstream;
  /** The kept-alive agent of the upstream's connections. */
  agent: http.Agent;
  /** The request's headers as sent upstream (X-Forwarded-* included), flat name/value pairs. */
  headers: string[];
  /** How long the upstream may stay silent. */
  timeoutMs: number;
  /** Called at most once, before any response byte was sent (see forward). */
  onError: (kind: ForwardError, err: Error) => void;
}

/**
 * Forwards one request over a kept-alive agent and streams the response back. Calls `onError`
 * at most once, and only before any response byte was sent; afterwards the client socket is
 * simply closed, as a half-sent response cannot be turned into an error page. An error after the
 * upstream's response was complete changes nothing for the client.
 */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, options: ForwardOptions): void {
  const { upstream, agent, headers, timeoutMs, onError } = options;
  const upstreamReq = http.request({
    host: upstream.host,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: headers as unknown as http.OutgoingHttpHeaders,
    agent,
    timeout: timeoutMs,
  });
  let failed = false;
  let upstreamRes: http.IncomingMessage | undefined;
  const fail = (kind: ForwardError, err: Error) => {
    if (failed) return;
    failed = true;
    // The response was already received whole: it goes on to the client as it is. This is a
    // server that sends bytes after its response, such as busybox httpd answering HEAD with the
    // body too: the parser fails on them after the response is complete (Node drops that
    // socket). Destroying here threw away the response the client was about to get (curl: 000).
    if (upstreamRes?.complete) return;
    upstreamReq.destroy();
    if (res.headersSent) res.destroy(err);
    else onError(kind, err);
  };
  upstreamReq.on('response', (received) => {
    upstreamRes = received;
    res.writeHead(received.statusCode ?? 502, received.statusMessage, responseHeaders(received));
    received.pipe(res);
    received.on('error', (err) => fail('aborted', err));
  });
  upstreamReq.on('timeout', () => fail('timeout', new Error('upstream timed out')));
  upstreamReq.on('error', (err) => fail('unreachable', err));
  res.on('close', () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });
  // A retry (see proxy/index.ts) forwards a body-less request whose stream already ended.
  if (req.readableEnded) upstreamReq.end();
  else req.pipe(upstreamReq);
}

/** Requests that may be sent to another instance after a failed connection: no body, no side effects. */
export function isRetryable(req: http.IncomingMessage): boolean {
  const method = req.method;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return false;
  return req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
}
