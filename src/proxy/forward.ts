import type http from 'node:http';
import type { Socket } from 'node:net';
import { type Dispatcher, Pool } from 'undici';
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
 * Lengths of the header names a request's headers are checked against (hop-by-hop, X-Forwarded-*):
 * a name of another length (most of them) is copied without being lower-cased.
 */
const checkedLengths = new Set(
  [...hopByHop, 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port'].map(
    (n) => n.length,
  ),
);

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
    if (!named && !checkedLengths.has(name.length)) {
      out.push(name, raw[i + 1]!);
      continue;
    }
    const lower = name.toLowerCase();
    if (hopByHop.has(lower) || named?.has(lower)) continue;
    // Node's server already answered `Expect: 100-continue`; undici cannot send the header.
    if (lower === 'expect') continue;
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

const hopByHopLengths = new Set([...hopByHop].map((n) => n.length));

/**
 * Response headers back to the client, minus hop-by-hop ones and those named in `Connection`.
 * Reads the raw list only: a parsed header object would be built for every response.
 */
export function responseHeaders(res: { rawHeaders: string[] }): string[] {
  const raw = res.rawHeaders;
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (hopByHopLengths.has(name.length)) {
      const lower = name.toLowerCase();
      if (hopByHop.has(lower)) {
        if (lower === 'connection') connection = connection ? `${connection}, ${raw[i + 1]}` : raw[i + 1];
        continue;
      }
    }
    out.push(name, raw[i + 1]!);
  }
  const named = namedInConnection(connection?.toLowerCase());
  if (!named) return out;
  // Rare: the upstream declared more headers hop-by-hop.
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!named.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  return kept;
}

/** Client address per connection (a kept-alive connection carries many requests). */
const addresses = new WeakMap<Socket, string>();

export function clientAddress(socket: Socket): string {
  let address = addresses.get(socket);
  if (address === undefined) {
    address = socket.remoteAddress ?? '';
    if (address.startsWith('::ffff:')) address = address.slice(7);
    // Not kept while the socket has no address yet (closed before it was read).
    if (address) addresses.set(socket, address);
  }
  return address;
}

export type ForwardError = 'unreachable' | 'timeout' | 'aborted';

/**
 * Kept-alive connection pools, one per upstream (`host:port`), on undici: its client costs far
 * less per request than node:http's `http.request` (no ClientRequest/IncomingMessage streams,
 * no header objects). Pools of upstreams no longer routed are closed by `closeUnrouted`.
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  get(upstream: Upstream): Pool {
    let pool = this.pools.get(upstream.key);
    if (!pool) {
      const host = upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host;
      pool = new Pool(`http://${host}:${upstream.port}`, {
        connections: 256,
        pipelining: 1,
        // Idle connections are closed after 30 s, as the former agent's socket timeout did,
        // unless the upstream's Keep-Alive header asks for less.
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 30_000,
      });
      this.pools.set(upstream.key, pool);
    }
    return pool;
  }

  /**
   * Closes the pools of upstreams not in `routed` (an old release being drained): requests in
   * flight finish, then the connections close, so the worker sees them end once its requests are
   * done. A later request to that upstream opens a new pool.
   */
  closeUnrouted(routed: Set<string>): void {
    for (const [key, pool] of this.pools) {
      if (routed.has(key)) continue;
      this.pools.delete(key);
      pool.close().catch(() => {});
    }
  }

  async destroy(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((pool) => pool.destroy()));
  }
}

/** Where and how one request is forwarded. */
export interface ForwardOptions {
  upstream: Upstream;
  /** The kept-alive connection pools of the upstreams. */
  pools: UpstreamPools;
  /** The request's headers as sent upstream (X-Forwarded-* included), flat name/value pairs. */
  headers: string[];
  /** How long the upstream may stay silent. */
  timeoutMs: number;
  /** Called at most once, before any response byte was sent (see forward). */
  onError: (kind: ForwardError, err: Error) => void;
}

const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** undici's raw header list (latin1 buffers) as the name/value strings `responseHeaders` reads. */
function headerStrings(raw: Buffer[]): { rawHeaders: string[] } {
  const rawHeaders = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) rawHeaders[i] = raw[i]!.toString('latin1');
  return { rawHeaders };
}

/**
 * Forwards one request over the upstream's pool and streams the response back. Calls `onError`
 * at most once, and only before any response byte was sent; afterwards the client socket is
 * simply closed, as a half-sent response cannot be turned into an error page. An error after the
 * upstream's response was complete changes nothing for the client.
 */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, options: ForwardOptions): void {
  const { upstream, pools, headers, timeoutMs, onError } = options;
  // A request without a body (most of them) sends none; a retry (see proxy/index.ts) only
  // forwards body-less requests, whose stream may have ended already.
  const hasBody =
    !req.readableEnded &&
    (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
  let abort: ((err?: Error) => void) | undefined;
  let started = false;
  let done = false;
  let failed = false;
  const onClose = () => {
    if (!done && !res.writableFinished) abort?.(new Error('client closed'));
  };
  const onDrain = () => resume?.();
  let resume: (() => void) | undefined;
  res.once('close', onClose);
  pools.get(upstream).dispatch(
    {
      origin: undefined,
      path: req.url ?? '/',
      method: req.method ?? 'GET',
      headers,
      body: hasBody ? req : null,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    } as Dispatcher.DispatchOptions,
    {
      onConnect(abortRequest: (err?: Error) => void) {
        abort = abortRequest;
      },
      onHeaders(status: number, raw: Buffer[], resumeResponse: () => void, statusMessage: string) {
        // 1xx interim responses (100 Continue, 103 Early Hints) are not relayed.
        if (status < 200) return true;
        started = true;
        resume = resumeResponse;
        res.writeHead(status, statusMessage, responseHeaders(headerStrings(raw)));
        res.on('drain', onDrain);
        return true;
      },
      onData(chunk: Buffer) {
        return res.write(chunk);
      },
      onComplete() {
        done = true;
        res.end();
      },
      onError(err: Error & { code?: string }) {
        // The response was already received whole: nothing to undo (see done).
        if (done || failed) return;
        failed = true;
        if (started || res.headersSent) {
          res.destroy(err);
          return;
        }
        if (res.destroyed) return;
        res.off('close', onClose);
        const code = err.code ?? '';
        onError(
          timeoutCodes.has(code) ? 'timeout' : code.startsWith('UND_ERR_INVALID') ? 'aborted' : 'unreachable',
          err,
        );
      },
    } as unknown as Dispatcher.DispatchHandler,
  );
}

/** Requests that may be sent to another instance after a failed connection: no body, no side effects. */
export function isRetryable(req: http.IncomingMessage): boolean {
  const method = req.method;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return false;
  return req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
}
