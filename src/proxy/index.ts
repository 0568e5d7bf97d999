import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import { Registry } from 'prom-client';
import type { Logger } from '../core/log.ts';
import { connectRedis } from '../core/redis.ts';
import type { GasperEvent } from '../events/schemas.ts';
import { subscribeEvents } from '../events/stream.ts';
import { answerChallenge, challengeToken } from './acme-challenge.ts';
import { createHttpsServer } from './https-listener.ts';
import { msUntilNextPeriod, ticketKeysAt } from './ticket-keys.ts';
import { startTls } from './edge-tls.ts';
import { tlsPolicy } from './tls.ts';
import { clientAddress, forward, forwardHeaders, isRetryable, UpstreamPools, type ForwardError } from './forward.ts';
import { ProxyMetrics } from './proxy-metrics.ts';
import { hostName, RouteTable, type Upstream } from './route-table.ts';

export interface ProxyOptions {
  host: string;
  /** 0 picks a free port; the handle reports the one bound. */
  port: number;
  domain: string;
  redisUrl: string;
  /** Longest wait for an upstream's response. Default 60 s. */
  upstreamTimeoutMs?: number;
  /** When set, `GET /metrics` of this process's registry is served on this port (0: a free one), on `host`. */
  metricsPort?: number;
  /** The bearer token `GET /metrics` on `metricsPort` needs (GASPER_METRICS_TOKEN); required with `metricsPort`. */
  metricsToken?: string;
  /** How long an upstream that refused a connection is skipped. Default 5 s. */
  markDownMs?: number;
  /** Port of the HTTPS listener (0: a free one). Unset: plain HTTP only. */
  httpsPort?: number;
  /** Address of the HTTPS listener. Default: `host`. */
  httpsHost?: string;
  /** The platform certificate's PEM files (`*.<domain>`, `<domain>`), reloaded when they change. Both or neither. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** How often the platform certificate files are compared besides being watched. Default 30 s. */
  tlsCheckIntervalMs?: number;
  /** The cluster's secret key (hex), which opens custom domains' private keys. Unset: only the platform certificate. */
  secretKey?: string;
  /** The platform's own host name (API and dashboard), forwarded to `platformUpstream`. */
  platformHost?: string;
  /** The API's `host:port` the platform host is forwarded to. Unset: the platform host is not routed. */
  platformUpstream?: string;
}

export interface ProxyHandle {
  port: number;
  routes: RouteTable;
  /** The port of the metrics endpoint, when `metricsPort` was given. */
  metricsPort?: number;
  /** The HTTPS listener's port, when `httpsPort` was given. */
  httpsPort?: number;
  close(): Promise<void>;
}

const errorStatus: Record<ForwardError, number> = { unreachable: 502, timeout: 504, aborted: 502 };

function reply(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The host-based reverse proxy. Its routing table is built from the event stream (snapshot,
 * then live events): it never polls the API. Plain HTTP goes through a lean forwarder over
 * kept-alive connections; WebSocket upgrades go through http-proxy-3.
 */
export interface ProxyDeps {
  log: Logger;
  /** The registry the proxy's counters go to (default: one of its own). */
  metrics?: Registry;
  /** Called after each event was applied to the route table (proxy processes report it for tests and benches). */
  onEvent?: (event: GasperEvent) => void;
}

export async function startProxy(options: ProxyOptions, deps: ProxyDeps): Promise<ProxyHandle> {
  const log = deps.log.child({ service: 'proxy' });
  // The counters name every app; app containers may reach the host, so no token is no endpoint.
  if (options.metricsPort !== undefined && !options.metricsToken) {
    throw new Error(
      'the proxy metrics port (GASPER_PROXY_METRICS_PORT) needs GASPER_METRICS_TOKEN: it serves nothing without a token',
    );
  }
  const routes = new RouteTable(
    options.domain,
    options.platformHost && options.platformUpstream
      ? {
          host: options.platformHost,
          upstream: options.platformUpstream,
          // Bearer tokens never cross in clear once the platform certificate is there.
          edge: options.tlsCertFile && options.httpsPort !== undefined ? { https: 'redirect', hsts: false } : undefined,
        }
      : undefined,
  );
  /** Bound ports; requests only come once they are. */
  let port: number;
  let httpsPort: number | undefined;
  const registry = deps.metrics ?? new Registry();
  const metrics = new ProxyMetrics(registry);
  // Commands (ACME challenges, certificates): the subscription's connection is held by its blocking read.
  const redis = connectRedis(options.redisUrl);
  let tls: ReturnType<typeof startTls> | undefined;
  try {
    tls =
      options.httpsPort === undefined ? undefined : startTls(options, redis, log, () => routes.certificatesChanged());
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  // A redirect only to a name a certificate covers: a pending custom domain stays on plain HTTP.
  if (tls) routes.setCertificateCoverage((name) => tls!.covers(name));
  const subscription = subscribeEvents(
    connectRedis(options.redisUrl),
    (event) => {
      routes.apply(event);
      tls?.custom.apply(event);
      if (event.type === 'app.removed') metrics.forget(event.app);
      deps.onEvent?.(event);
    },
    log,
  );
  const pools = new UpstreamPools();
  const timeoutMs = options.upstreamTimeoutMs ?? 60_000;
  const wsProxy = createProxyServer({ ws: true, xfwd: true });
  wsProxy.on('error', (err, _req, socket) => {
    log.debug({ err: err.message }, 'websocket proxy error');
    if (socket && 'destroy' in socket) socket.destroy();
  });

  const markDownMs = options.markDownMs ?? 5_000;
  /** Instances one request may try: it is never sent twice to the same one. */
  const maxAttempts = 3;
  /** One handler for plain HTTP and HTTPS: same routing, headers, retries and drain. */
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const token = challengeToken(req.url);
    if (token !== undefined) return answerChallenge(redis, token, req, res, log);
    const route = routes.resolve(req.headers.host);
    if (route.kind === 'unknown-host') {
      metrics.unknown();
      return reply(res, 404, `no app at ${req.headers.host ?? '(no Host header)'}\n`);
    }
    const started = performance.now();
    const { app } = route;
    res.once('close', () => metrics.response(app, res.statusCode, (performance.now() - started) / 1000));
    const edge = routes.hostEdge(req.headers.host);
    if (edge) {
      const tlsRequest = isTls(req);
      if (!tlsRequest && edge.redirect && httpsPort !== undefined) return redirectToHttps(req, res, httpsPort);
      if (tlsRequest && edge.hsts) res.setHeader('strict-transport-security', hstsValue);
    }
    if (route.kind === 'no-instances') {
      metrics.failure(app, 'no_instances');
      if (route.noWeb)
        return reply(res, 503, `app ${app} has no web process (its release declares none, or web is scaled to 0)\n`);
      return reply(res, 503, `app ${app} has no running instance\n`);
    }
    const headers = forwardHeaders(req, clientAddress(req.socket), isTls(req) ? 'https' : 'http');
    /** Upstreams this request was sent to: made on the first failure only, rare on the hot path. */
    let tried: Set<string> | undefined;
    const onError = (upstream: Upstream, kind: ForwardError, err: Error) => {
      metrics.failure(app, kind);
      log.debug({ app, upstream: upstream.key, err: err.message }, 'upstream error');
      if (kind === 'unreachable') {
        // Passive health: skip this instance for a while; a request without a body or side
        // effects goes to another instance, so a dying instance costs no failed request.
        routes.markDown(upstream.key, Date.now(), markDownMs);
        tried ??= new Set();
        tried.add(upstream.key);
        // The route may have changed meanwhile (the worker took the failed instance out): ask again.
        if (isRetryable(req) && !res.headersSent && tried.size < maxAttempts) {
          const next = routes.resolve(req.headers.host, { exclude: tried });
          if (next.kind === 'upstream' && !tried.has(next.upstream.key)) return attempt(next.upstream);
        }
      }
      reply(res, errorStatus[kind], kind === 'timeout' ? `app ${app} timed out\n` : `app ${app} is not reachable\n`);
    };
    const attempt = (upstream: Upstream) =>
      forward(req, res, { upstream, pools, headers, timeoutMs, onError: (kind, err) => onError(upstream, kind, err) });
    attempt(route.upstream);
  };
  const server = http.createServer(onRequest);
  // Idle kept-alive connections to instances no longer routed (an old release being drained) are
  // closed, so the worker sees the old instance's connections end once its requests are done.
  const sweep = setInterval(() => pools.closeUnrouted(routes.routedKeys()), 500);
  sweep.unref();
  // Upgraded connections leave the HTTP server's books: closeAllConnections() no longer sees them.
  const upgraded = new Set<Duplex>();
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const route = routes.resolve(req.headers.host);
    if (route.kind !== 'upstream') {
      socket.end(
        `HTTP/1.1 ${route.kind === 'unknown-host' ? '404 Not Found' : '503 Service Unavailable'}\r\nConnection: close\r\n\r\n`,
      );
      return;
    }
    wsProxy.ws(req, socket, head, { target: `http://${route.upstream.key}` });
  };
  server.on('upgrade', onUpgrade);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.keepAliveTimeout = 65_000;

  let ticketKeys = tls ? await ticketKeysAt(redis, Date.now()) : undefined;
  const httpsServer = tls && createHttpsServer({ ...tls, onRequest, onUpgrade, ticketKeys, log });
  // A new context comes with new random ticket keys: the shared ones are set on it again.
  tls?.onPlatformChange((pem) => httpsServer!.setSecureContext({ ...tlsPolicy, ...pem, ticketKeys }));
  let ticketTimer: NodeJS.Timeout | undefined;
  const rotateTickets = () => {
    ticketTimer = setTimeout(() => {
      ticketKeysAt(redis, Date.now())
        .then((next) => {
          ticketKeys = next;
          httpsServer?.setTicketKeys(next);
        })
        .catch((err) => log.warn({ err }, 'could not rotate the TLS ticket keys: the current ones stay'))
        .finally(rotateTickets);
    }, msUntilNextPeriod(Date.now()) + 1000);
    ticketTimer.unref();
  };
  if (httpsServer) rotateTickets();

  await subscription.ready;
  await tls?.custom.settled();
  const listen = (s: http.Server, port: number, host: string) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => resolve((s.address() as AddressInfo).port));
    });
  try {
    port = await listen(server, options.port, options.host);
    httpsPort = httpsServer && (await listen(httpsServer, options.httpsPort!, options.httpsHost ?? options.host));
  } catch (err) {
    clearInterval(sweep);
    clearTimeout(ticketTimer);
    tls?.close();
    server.close();
    await subscription.close();
    redis.disconnect();
    await pools.destroy();
    throw err;
  }
  log.info({ port, httpsPort, routes: routes.size }, 'proxy listening');
  const metricsServer =
    options.metricsPort === undefined
      ? undefined
      : await serveMetrics(registry, options.host, options.metricsPort, options.metricsToken!);

  let closing: Promise<void> | undefined;
  return {
    port,
    routes,
    metricsPort: metricsServer ? (metricsServer.address() as AddressInfo).port : undefined,
    httpsPort,
    close() {
      closing ??= (async () => {
        metricsServer?.close();
        metricsServer?.closeAllConnections();
        clearInterval(sweep);
        clearTimeout(ticketTimer);
        tls?.close();
        const closed = Promise.all(
          [server, httpsServer].map((s) => s && new Promise<void>((resolve) => s.close(() => resolve()))),
        );
        server.closeAllConnections();
        httpsServer?.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
        await Promise.allSettled([closed, subscription.close()]);
        redis.disconnect();
        wsProxy.close();
        await pools.destroy();
      })();
      return closing;
    },
  };
}

/** One year, the usual value (and what hstspreload.org asks at least); subdomains are not ours to include. */
const hstsValue = 'max-age=31536000';

/**
 * 308 (method and body kept, RFC 9110) to the same URL over HTTPS. The port is the HTTPS
 * listener's, left out when it is 443.
 */
function redirectToHttps(req: http.IncomingMessage, res: http.ServerResponse, httpsPort: number): void {
  const name = hostName(req.headers.host);
  const location = `https://${name}${httpsPort === 443 ? '' : `:${httpsPort}`}${req.url ?? '/'}`;
  res.writeHead(308, { location, 'content-type': 'text/plain; charset=utf-8', 'content-length': 0 });
  res.end();
}

/** Whether the request came over TLS (the HTTPS listener's sockets are TLSSockets). */
const isTls = (req: http.IncomingMessage) => (req.socket as { encrypted?: boolean }).encrypted === true;

const sha256 = (value: string) => crypto.createHash('sha256').update(value).digest();

/**
 * A plain `GET /metrics` endpoint for a proxy running in a process of its own (Prometheus scrapes
 * each process), for `Authorization: Bearer <token>` only, as the API's `/metrics` with the metrics token.
 */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  token: string,
): Promise<http.Server> {
  const wanted = sha256(token);
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') return reply(res, 404, 'not found\n');
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    // Digests of equal length: the comparison takes the same time whatever the token sent.
    if (!match || !crypto.timingSafeEqual(sha256(match[1]!), wanted)) {
      res.setHeader('www-authenticate', 'Bearer');
      return reply(res, 401, 'missing or wrong "Authorization: Bearer <GASPER_METRICS_TOKEN>" header\n');
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      },
      () => reply(res, 500, 'cannot collect metrics\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
