import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { publishEvent } from '../../src/events/stream.ts';
import { startProxy, type ProxyHandle } from '../../src/proxy/index.ts';
import { startTestRedis } from '../support/redis.ts';

const DOMAIN = 'gasper.test';
const curl = (...args: string[]) => promisify(execFile)('curl', args);
const silent = createLogger('silent');

function appName(): string {
  return `app-${crypto.randomBytes(4).toString('hex')}`;
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** Deterministic bytes (not all zeros, so a reordered or shifted chunk shows). */
function pattern(size: number, seed = 7): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >>> 16;
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` every 10 ms, at most `timeoutMs`. */
async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Upstream test servers
// ---------------------------------------------------------------------------------------------

interface Upstream {
  name: string;
  port: number;
  server: http.Server;
  /** TCP connections the server accepted. */
  connections: number;
  /** Headers of every request it received, in order. */
  seen: { url: string; headers: http.IncomingHttpHeaders; rawHeaders: string[] }[];
  /** Resolves the pending `/stream` response's second half. */
  release(): void;
  close(): Promise<void>;
}

const BIG = pattern(5 * 1024 * 1024);
const BIG_SHA = sha256(BIG);

/**
 * A real node:http server on 127.0.0.1:0 with a few routes:
 *   /id         its name
 *   /headers    the request headers as JSON
 *   /echo       the request body's length and sha256 as JSON
 *   /big        5 MiB of pattern bytes
 *   /hang       never answers
 *   /destroy    sends headers and part of the body, then destroys the socket
 *   /destroy-early  destroys the socket before any response byte
 *   /stream     sends a first chunk, the rest once `release()` is called
 *   /hop        a response carrying hop-by-hop headers
 * and WebSocket-style upgrades answered with 101 and a byte echo.
 */
async function startUpstream(name: string): Promise<Upstream> {
  const sockets = new Set<net.Socket>();
  let releaseStream: (() => void) | undefined;
  const upstream: Upstream = {
    name,
    port: 0,
    server: undefined as unknown as http.Server,
    connections: 0,
    seen: [],
    release: () => releaseStream?.(),
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    upstream.seen.push({ url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/id':
        res.end(name);
        return;
      case '/headers':
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ headers: req.headers, rawHeaders: req.rawHeaders }));
        return;
      case '/echo': {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              method: req.method,
              length: body.length,
              sha256: sha256(body),
              contentLength: req.headers['content-length'] ?? null,
              transferEncoding: req.headers['transfer-encoding'] ?? null,
            }),
          );
        });
        return;
      }
      case '/big':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
        res.end(BIG);
        return;
      case '/hang':
        return; // never answers
      case '/destroy':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 100_000 });
        res.write(Buffer.alloc(1000, 1));
        setTimeout(() => req.socket.destroy(), 20);
        return;
      case '/destroy-early':
        req.socket.destroy();
        return;
      case '/stream':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        releaseStream = () => res.end('second');
        return;
      case '/hop':
        res.writeHead(200, {
          'content-type': 'text/plain',
          connection: 'keep-alive, x-resp-hop',
          'x-resp-hop': 'must-not-reach-the-client',
          'keep-alive': 'timeout=5',
          'x-end-to-end': 'kept',
        });
        res.end('hop');
        return;
      default:
        res.end(`ok ${name}`);
    }
  });
  server.on('connection', (socket: net.Socket) => {
    upstream.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    upstream.seen.push({ url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.server = server;
  upstream.port = (server.address() as net.AddressInfo).port;
  return upstream;
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface SendOptions {
  method?: string;
  path?: string;
  headers?: http.OutgoingHttpHeaders;
  /** A whole body, or chunks written one by one without a Content-Length (chunked). */
  body?: Buffer | Buffer[];
  agent?: http.Agent | false;
  timeoutMs?: number;
}

/** One request to the proxy on 127.0.0.1 with the given Host; rejects on a transport error. */
function send(port: number, host: string, options: SendOptions = {}): Promise<Reply> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { host, ...options.headers };
    if (Buffer.isBuffer(options.body)) headers['content-length'] = options.body.length;
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: options.method ?? 'GET',
      path: options.path ?? '/',
      headers,
      agent: options.agent ?? false,
    });
    const timer = setTimeout(() => req.destroy(new Error(`client timeout after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    const body = options.body;
    if (Array.isArray(body)) {
      void (async () => {
        for (const chunk of body) {
          req.write(chunk);
          await sleep(5);
        }
        req.end();
      })();
    } else {
      req.end(body);
    }
  });
}

interface WsResult {
  socket: net.Socket;
  /** Writes `data` and resolves with the first `data.length` bytes that come back. */
  echo(data: Buffer): Promise<Buffer>;
}

/** An upgrade request through the proxy; resolves on 101, rejects with the status otherwise. */
function upgrade(port: number, host: string, timeoutMs = 5000): Promise<WsResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/socket',
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', Host: host },
      agent: false,
    });
    const timer = setTimeout(() => req.destroy(new Error(`upgrade timeout after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => {});
      res.on('end', () => {
        clearTimeout(timer);
        const err = new Error(`upgrade answered ${res.statusCode}: ${Buffer.concat(chunks).toString()}`) as Error & {
          status?: number;
        };
        err.status = res.statusCode;
        reject(err);
      });
    });
    req.on('upgrade', (res, socket, head) => {
      clearTimeout(timer);
      expect(res.statusCode).to.equal(101);
      socket.on('error', () => {});
      let buffered = head;
      const waiters: (() => void)[] = [];
      socket.on('data', (c: Buffer) => {
        buffered = Buffer.concat([buffered, c]);
        for (const w of waiters.splice(0)) w();
      });
      const echo = (data: Buffer) =>
        new Promise<Buffer>((res2, rej2) => {
          buffered = Buffer.alloc(0);
          const t = setTimeout(
            () => rej2(new Error(`echo of ${data.length} bytes timed out; got ${buffered.length}`)),
            timeoutMs,
          );
          const check = () => {
            if (buffered.length >= data.length) {
              clearTimeout(t);
              res2(buffered.subarray(0, data.length));
            } else waiters.push(check);
          };
          socket.write(data);
          check();
        });
      resolve({ socket, echo });
    });
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------

describe('proxy (real Redis, real upstreams)', function () {
  this.timeout(30_000);

  let redis: EmbeddedRedisHandle;
  let pub: Redis;
  let proxy: ProxyHandle;
  let alpha: Upstream;
  let beta: Upstream;
  /** Published before the proxy started: must come from the snapshot. */
  let earlyApp: string;
  let earlyBetaApp: string;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];

  const hostOf = (app: string, port?: number) => (port === undefined ? `${app}.${DOMAIN}` : `${app}.${DOMAIN}:${port}`);

  async function publishInstances(app: string, ports: number[], release = 'r1'): Promise<void> {
    await publishEvent(pub, {
      type: 'app.instances',
      app,
      release,
      instances: ports.map((port, i) => ({ node: 'n1', address: '127.0.0.1', port, container: `${app}-${i}` })),
    });
  }

  /** Publishes an app and waits (bounded) until the live proxy has its route. */
  async function routeLive(app: string, ports: number[], on: ProxyHandle = proxy): Promise<void> {
    await publishInstances(app, ports);
    await waitFor(() => on.routes.has(app), `route for ${app}`);
  }

  async function upstreamFor(name: string): Promise<Upstream> {
    const u = await startUpstream(name);
    cleanups.push(() => u.close());
    return u;
  }

  async function extraProxy(options: { upstreamTimeoutMs?: number } = {}): Promise<ProxyHandle> {
    const p = await startProxy(
      { host: '127.0.0.1', port: 0, domain: DOMAIN, redisUrl: redis.url, ...options },
      { log: silent },
    );
    cleanups.push(() => p.close());
    return p;
  }

  before(async () => {
    redis = await startTestRedis();
    pub = connectRedis(redis.url);
    alpha = await startUpstream('alpha');
    beta = await startUpstream('beta');
    earlyApp = appName();
    earlyBetaApp = appName();
    await publishInstances(earlyApp, [alpha.port]);
    await publishInstances(earlyBetaApp, [beta.port]);
    proxy = await startProxy({ host: '127.0.0.1', port: 0, domain: DOMAIN, redisUrl: redis.url }, { log: silent });
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  after(async () => {
    await proxy?.close();
    await alpha?.close();
    await beta?.close();
    pub?.disconnect();
    await redis?.close();
  });

  describe('routing', () => {
    it('routes apps published before it started (snapshot catch-up), each to its own upstream', async () => {
      expect(proxy.routes.has(earlyApp)).to.equal(true);
      const a = await send(proxy.port, hostOf(earlyApp), { path: '/id' });
      expect(a.status).to.equal(200);
      expect(a.body.toString()).to.equal('alpha');
      const b = await send(proxy.port, hostOf(earlyBetaApp), { path: '/id' });
      expect(b.status).to.equal(200);
      expect(b.body.toString()).to.equal('beta');
    });

    it('routes an app published after it started (live event, no restart)', async () => {
      const app = appName();
      expect(proxy.routes.has(app)).to.equal(false);
      await routeLive(app, [beta.port]);
      const r = await send(proxy.port, hostOf(app), { path: '/id' });
      expect(r.status).to.equal(200);
      expect(r.body.toString()).to.equal('beta');
    });

    it('matches Host with and without :port, case-insensitively', async () => {
      for (const host of [
        hostOf(earlyApp),
        hostOf(earlyApp, proxy.port),
        hostOf(earlyApp, 80),
        hostOf(earlyApp).toUpperCase(),
        `${earlyApp.toUpperCase()}.Gasper.Test:${proxy.port}`,
      ]) {
        const r = await send(proxy.port, host, { path: '/id' });
        expect(r.status, `Host: ${host}`).to.equal(200);
        expect(r.body.toString(), `Host: ${host}`).to.equal('alpha');
      }
    });

    it('follows a live change of instances to the new upstream', async () => {
      const app = appName();
      await routeLive(app, [alpha.port]);
      expect((await send(proxy.port, hostOf(app), { path: '/id' })).body.toString()).to.equal('alpha');
      await publishInstances(app, [beta.port], 'r2');
      await waitFor(() => {
        const r = proxy.routes.resolve(hostOf(app));
        return r.kind === 'upstream' && r.upstream.port === beta.port;
      }, 'the route to switch to beta');
      expect((await send(proxy.port, hostOf(app), { path: '/id' })).body.toString()).to.equal('beta');
    });

    it('balances round-robin over two instances', async () => {
      const app = appName();
      await routeLive(app, [alpha.port, beta.port]);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await send(proxy.port, hostOf(app), { path: '/id' })).body.toString());
      expect(ids.filter((id) => id === 'alpha')).to.have.length(3);
      expect(ids.filter((id) => id === 'beta')).to.have.length(3);
      for (let i = 1; i < ids.length; i++) expect(ids[i], `request ${i} of ${ids.join(',')}`).to.not.equal(ids[i - 1]);
    });

    it('answers 404 after an app.removed event', async () => {
      const app = appName();
      await routeLive(app, [alpha.port]);
      expect((await send(proxy.port, hostOf(app), { path: '/id' })).status).to.equal(200);
      await publishEvent(pub, { type: 'app.removed', app });
      await waitFor(() => !proxy.routes.has(app), `route for ${app} to go`);
      const r = await send(proxy.port, hostOf(app), { path: '/id' });
      expect(r.status).to.equal(404);
    });
  });

  describe('errors', () => {
    it('answers an unknown host with 404 and a short text body', async () => {
      for (const host of [
        hostOf(appName()),
        `a.${earlyApp}.${DOMAIN}`,
        `${earlyApp}.other.test`,
        DOMAIN,
        'localhost',
      ]) {
        const r = await send(proxy.port, host);
        expect(r.status, `Host: ${host}`).to.equal(404);
        expect(r.headers['content-type'], `Host: ${host}`).to.match(/^text\/plain/);
        expect(r.body.length, `Host: ${host}`).to.be.within(1, 300);
      }
      expect(alpha.seen.some((s) => s.headers.host?.includes('other.test'))).to.equal(false);
    });

    it('answers 503 for an app with zero instances', async () => {
      const app = appName();
      await routeLive(app, []);
      const r = await send(proxy.port, hostOf(app));
      expect(r.status).to.equal(503);
      expect(r.body.length).to.be.within(1, 300);
    });

    it('answers 502 with a short body when nothing listens on the instance port', async () => {
      const app = appName();
      await routeLive(app, [await deadPort()]);
      const r = await send(proxy.port, hostOf(app));
      expect(r.status).to.equal(502);
      expect(r.headers['content-type']).to.match(/^text\/plain/);
      expect(r.body.length).to.be.within(1, 300);
    });

    it('answers 502 when the upstream drops the connection before answering', async () => {
      const app = appName();
      await routeLive(app, [alpha.port]);
      const r = await send(proxy.port, hostOf(app), { path: '/destroy-early' });
      expect(r.status).to.equal(502);
      expect(r.body.length).to.be.within(1, 300);
      expect((await send(proxy.port, hostOf(app), { path: '/id' })).status).to.equal(200);
    });

    it('answers 504 when the upstream never answers within upstreamTimeoutMs', async () => {
      const p = await extraProxy({ upstreamTimeoutMs: 300 });
      const app = appName();
      await routeLive(app, [alpha.port], p);
      const started = Date.now();
      const r = await send(p.port, hostOf(app), { path: '/hang' });
      const elapsed = Date.now() - started;
      expect(r.status).to.equal(504);
      expect(r.body.length).to.be.within(1, 300);
      expect(elapsed, `504 after ${elapsed} ms`).to.be.within(250, 3000);
      // The proxy goes on serving.
      const ok = await send(p.port, hostOf(app), { path: '/id' });
      expect(ok.status).to.equal(200);
      expect(ok.body.toString()).to.equal('alpha');
    });

    it('survives an upstream that destroys the socket mid-response; the next request works', async () => {
      const app = appName();
      await routeLive(app, [alpha.port]);
      let outcome: string;
      try {
        const r = await send(proxy.port, hostOf(app), { path: '/destroy' });
        outcome = `complete response ${r.status} with ${r.body.length} bytes`;
      } catch (err) {
        outcome = `client error: ${(err as Error).message}`;
      }
      // The client must not be told the truncated body is complete.
      expect(outcome).to.match(/^client error/);
      for (let i = 0; i < 3; i++) {
        const r = await send(proxy.port, hostOf(app), { path: '/id' });
        expect(r.status).to.equal(200);
        expect(r.body.toString()).to.equal('alpha');
      }
    });

    it('answers HEAD whole when the upstream also sends a body (as busybox httpd does): 50 times curl -I', async () => {
      // busybox httpd answers HEAD with the body too, then closes: Node's client parser sees the
      // body as a malformed next response and errors the request after the response had ended.
      const sloppy = net.createServer((socket) => {
        socket.once('data', () => {
          socket.end(
            'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-type: text/html\r\nETag: "x-b"\r\nContent-Length: 11\r\n\r\n<h1>x</h1>\n',
          );
        });
        socket.on('error', () => {});
      });
      await new Promise<void>((resolve) => sloppy.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise((resolve) => sloppy.close(resolve)));
      const app = appName();
      await routeLive(app, [(sloppy.address() as net.AddressInfo).port]);
      const outcomes: Record<string, number> = {};
      for (let i = 0; i < 50; i++) {
        const { stdout } = await curl(
          '-sS',
          '-I',
          '-m',
          '5',
          '-w',
          '%{http_code}',
          '-H',
          `Host: ${hostOf(app)}`,
          `http://127.0.0.1:${proxy.port}/`,
        ).catch((err: { stdout?: string; code?: number }) => ({
          stdout: `curl exit ${err.code}: ${err.stdout ?? ''}`,
        }));
        const complete =
          /^HTTP\/1\.1 200 OK\r\n/.test(stdout) &&
          /\r\ncontent-length: 11\r\n/i.test(stdout) &&
          /\r\netag: "x-b"\r\n/i.test(stdout) &&
          stdout.endsWith('\r\n\r\n200');
        const key = complete ? '200 with its headers' : JSON.stringify(stdout.slice(-80));
        outcomes[key] = (outcomes[key] ?? 0) + 1;
      }
      expect(outcomes).to.deep.equal({ '200 with its headers': 50 });
      // A GET still gets the body.
      const r = await send(proxy.port, hostOf(app), { path: '/' });
      expect(r.status).to.equal(200);
      expect(r.body.toString()).to.equal('<h1>x</h1>\n');
    });

    it('does not crash when the client goes away before the upstream answers', async () => {
      const app = appName();
      await routeLive(app, [alpha.port]);
      const seenBefore = alpha.seen.length;
      await send(proxy.port, hostOf(app), { path: '/hang', timeoutMs: 200 }).then(
        () => expect.fail('a hanging upstream cannot answer'),
        (err: Error) => expect(err.message).to.match(/client timeout/),
      );
      await waitFor(() => alpha.seen.length > seenBefore, 'the upstream to get the request');
      const r = await send(proxy.port, hostOf(app), { path: '/id' });
      expect(r.status).to.equal(200);
    });
  });

  describe('instance health', () => {
    it('sends a GET to another instance when one refuses the connection, then skips the dead one', async () => {
      const u = await upstreamFor('healthy');
      const app = appName();
      await routeLive(app, [await deadPort(), u.port]);
      for (let i = 0; i < 6; i++) {
        const r = await send(proxy.port, hostOf(app), { path: '/id' });
        expect(r.status, `request ${i}`).to.equal(200);
        expect(r.body.toString()).to.equal('healthy');
      }
      expect(u.seen).to.have.length(6);
    });

    it('does not resend a request with a body, but sends the next ones to the instance still up', async () => {
      const u = await upstreamFor('healthy');
      const app = appName();
      await routeLive(app, [await deadPort(), u.port]);
      const first = await send(proxy.port, hostOf(app), { method: 'POST', path: '/echo', body: Buffer.from('x') });
      expect(first.status).to.equal(502);
      for (let i = 0; i < 4; i++) {
        expect(
          (await send(proxy.port, hostOf(app), { method: 'POST', path: '/echo', body: Buffer.from('x') })).status,
        ).to.equal(200);
      }
    });

    it('closes idle kept-alive connections to an instance once it is no longer routed (so it can drain)', async () => {
      const old = await upstreamFor('old');
      const app = appName();
      await routeLive(app, [old.port]);
      expect((await send(proxy.port, hostOf(app), { path: '/id' })).status).to.equal(200);
      const open = () => new Promise<number>((resolve) => old.server.getConnections((_err, n) => resolve(n)));
      expect(await open()).to.equal(1);
      await publishInstances(app, [beta.port], 'r2');
      await waitFor(() => proxy.routes.resolve(hostOf(app)).kind === 'upstream', 'the new route');
      const deadline = Date.now() + 3000;
      while ((await open()) > 0 && Date.now() < deadline) await sleep(50);
      expect(await open()).to.equal(0);
    });
  });

  describe('headers', () => {
    it('sets X-Forwarded-For (appended), X-Forwarded-Proto and X-Forwarded-Host as seen by the upstream', async () => {
      const app = appName();
      await routeLive(app, [alpha.port]);
      const host = `${app}.${DOMAIN}:${proxy.port}`;
      const r = await send(proxy.port, host, {
        path: '/headers',
        headers: {
          'X-Forwarded-For': '203.0.113.9',
          'X-Forwarded-Proto': 'https',
          'X-Forwarded-Host': 'evil.example',
          'X-Request-Id': 'abc',
        },
      });
      expect(r.status).to.equal(200);
      const { headers } = JSON.parse(r.body.toString()) as { headers: Record<string, string> };
      expect(headers['x-forwarded-for']).to.equal('203.0.113.9, 127.0.0.1');
      expect(headers['x-forwarded-proto']).to.equal('http');
      expect(headers['x-forwarded-host']).to.equal(host);
      expect(headers.host).to.equal(host);
      expect(headers['x-request-id']).to.equal('abc');
    });

    it('sets X-Forwarded-For to the client address when the client sent none', async () => {
      const r = await send(proxy.port, hostOf(earlyApp), { path: '/headers' });
      const { headers } = JSON.parse(r.body.toString()) as { headers: Record<string, string> };
      expect(headers['x-forwarded-for']).to.equal('127.0.0.1');
      expect(headers['x-forwarded-proto']).to.equal('http');
      expect(headers['x-forwarded-host']).to.equal(hostOf(earlyApp));
    });

    it('does not forward hop-by-hop request headers, nor those named in Connection', async () => {
      const r = await send(proxy.port, hostOf(earlyApp), {
        path: '/headers',
        headers: {
          Connection: 'x-custom',
          'X-Custom': 'secret',
          'Keep-Alive': 'timeout=5',
          TE: 'trailers',
          'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
          'X-Kept': 'yes',
        },
      });
      expect(r.status).to.equal(200);
      const { headers, rawHeaders } = JSON.parse(r.body.toString()) as {
        headers: Record<string, string>;
        rawHeaders: string[];
      };
      expect(headers).to.not.have.property('x-custom');
      expect(headers).to.not.have.property('keep-alive');
      expect(headers).to.not.have.property('te');
      expect(headers).to.not.have.property('proxy-authorization');
      expect(headers['x-kept']).to.equal('yes');
      // The upstream hop gets the proxy's own Connection header, never the client's.
      expect(rawHeaders.filter((h, i) => i % 2 === 1 && h.toLowerCase().includes('x-custom'))).to.deep.equal([]);
    });

    it('does not pass hop-by-hop response headers back, nor those named in the upstream Connection', async () => {
      const r = await send(proxy.port, hostOf(earlyApp), { path: '/hop' });
      expect(r.status).to.equal(200);
      expect(r.body.toString()).to.equal('hop');
      expect(r.headers['x-end-to-end']).to.equal('kept');
      expect(r.headers).to.not.have.property('keep-alive');
      expect(r.headers, 'x-resp-hop is named in the upstream Connection header').to.not.have.property('x-resp-hop');
    });
  });

  describe('bodies and connections', () => {
    it('streams a request body to the upstream intact (Content-Length and chunked)', async () => {
      const body = pattern(1024 * 1024, 11);
      const r = await send(proxy.port, hostOf(earlyApp), { method: 'POST', path: '/echo', body });
      expect(r.status).to.equal(200);
      const echoed = JSON.parse(r.body.toString()) as Record<string, unknown>;
      expect(echoed).to.include({
        method: 'POST',
        length: body.length,
        sha256: sha256(body),
        contentLength: String(body.length),
      });

      const chunks = [pattern(10_000, 1), pattern(70_000, 2), Buffer.from('tail')];
      const whole = Buffer.concat(chunks);
      const c = await send(proxy.port, hostOf(earlyApp), { method: 'PUT', path: '/echo', body: chunks });
      expect(c.status).to.equal(200);
      expect(JSON.parse(c.body.toString())).to.include({ method: 'PUT', length: whole.length, sha256: sha256(whole) });
    });

    it('streams a large (5 MiB) response back intact', async () => {
      const r = await send(proxy.port, hostOf(earlyApp), { path: '/big' });
      expect(r.status).to.equal(200);
      expect(r.headers['content-length']).to.equal(String(BIG.length));
      expect(r.body.length).to.equal(BIG.length);
      expect(sha256(r.body)).to.equal(BIG_SHA);
    });

    it('streams the response as it comes (first bytes before the upstream ends it)', async () => {
      const u = await upstreamFor('streamer');
      const app = appName();
      await routeLive(app, [u.port]);
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port: proxy.port,
          path: '/stream',
          headers: { host: hostOf(app) },
          agent: false,
        });
        const timer = setTimeout(() => req.destroy(new Error('streaming timed out: first chunk was buffered')), 5000);
        req.on('error', reject);
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
            if (text === 'first;') u.release();
          });
          res.on('end', () => {
            clearTimeout(timer);
            resolve(text);
          });
        });
        req.end();
      });
      expect(body).to.equal('first;second');
    });

    it('reuses one kept-alive upstream connection for sequential requests', async () => {
      const u = await upstreamFor('keepalive');
      const app = appName();
      await routeLive(app, [u.port]);
      for (let i = 0; i < 6; i++) {
        const r = await send(proxy.port, hostOf(app), { path: '/id' });
        expect(r.status).to.equal(200);
        expect(r.body.toString()).to.equal('keepalive');
      }
      expect(u.connections, 'upstream TCP connections for 6 sequential requests').to.equal(1);
    });

    it('keeps client connections alive across requests', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      cleanups.push(() => agent.destroy());
      const clientSockets = new Set<net.Socket>();
      for (let i = 0; i < 4; i++) {
        const r = await new Promise<Reply>((resolve, reject) => {
          const req = http.get(
            { host: '127.0.0.1', port: proxy.port, path: '/id', headers: { host: hostOf(earlyApp) }, agent },
            (res) => {
              clientSockets.add(res.socket);
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
              );
            },
          );
          req.on('error', reject);
        });
        expect(r.body.toString()).to.equal('alpha');
      }
      expect(clientSockets.size).to.equal(1);
    });
  });

  describe('WebSocket upgrades', () => {
    it('passes an upgrade through and echoes raw bytes both ways', async () => {
      const u = await upstreamFor('ws');
      const app = appName();
      await routeLive(app, [u.port]);
      const ws = await upgrade(proxy.port, hostOf(app, proxy.port));
      cleanups.push(() => ws.socket.destroy());
      expect((await ws.echo(Buffer.from('hello'))).toString()).to.equal('hello');
      const blob = pattern(256 * 1024, 3);
      expect(sha256(await ws.echo(blob))).to.equal(sha256(blob));
      const seen = u.seen.at(-1)!;
      expect(seen.url).to.equal('/socket');
      expect(seen.headers.upgrade).to.equal('websocket');
      expect(seen.headers['x-forwarded-for']).to.equal('127.0.0.1');
    });

    it('answers an upgrade for an unknown host with 404', async () => {
      const err = await upgrade(proxy.port, hostOf(appName())).then(
        () => expect.fail('an unknown host must not upgrade'),
        (e: Error & { status?: number }) => e,
      );
      expect(err.status, err.message).to.equal(404);
    });

    it('answers an upgrade for an app with zero instances with 503', async () => {
      const app = appName();
      await routeLive(app, []);
      const err = await upgrade(proxy.port, hostOf(app)).then(
        () => expect.fail('an app without instances must not upgrade'),
        (e: Error & { status?: number }) => e,
      );
      expect(err.status, err.message).to.equal(503);
    });

    it('does not crash when the upgrade target port has nothing listening', async () => {
      const app = appName();
      await routeLive(app, [await deadPort()]);
      await upgrade(proxy.port, hostOf(app), 3000).then(
        () => expect.fail('nothing listens: no upgrade'),
        () => {},
      );
      expect((await send(proxy.port, hostOf(earlyApp), { path: '/id' })).status).to.equal(200);
    });
  });

  describe('close()', () => {
    it('is prompt with idle and in-flight connections, and harmless twice', async () => {
      const p = await startProxy({ host: '127.0.0.1', port: 0, domain: DOMAIN, redisUrl: redis.url }, { log: silent });
      cleanups.push(() => p.close());
      const app = appName();
      await routeLive(app, [alpha.port], p);
      // An idle kept-alive client connection and a request waiting on a hanging upstream.
      const agent = new http.Agent({ keepAlive: true });
      cleanups.push(() => agent.destroy());
      expect((await send(p.port, hostOf(app), { path: '/id', agent })).status).to.equal(200);
      const inFlight = send(p.port, hostOf(app), { path: '/hang' }).then(
        () => 'answered',
        () => 'failed',
      );
      await sleep(100);

      const started = Date.now();
      await p.close();
      const elapsed = Date.now() - started;
      expect(elapsed, `close() took ${elapsed} ms`).to.be.below(2000);
      expect(await inFlight).to.equal('failed');

      const again = Date.now();
      await p.close();
      expect(Date.now() - again).to.be.below(200);

      await send(p.port, hostOf(app), { timeoutMs: 2000 }).then(
        () => expect.fail('a closed proxy must not answer'),
        (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ECONNREFUSED'),
      );
    });

    it('is prompt while a WebSocket connection is open', async () => {
      const p = await startProxy({ host: '127.0.0.1', port: 0, domain: DOMAIN, redisUrl: redis.url }, { log: silent });
      cleanups.push(() => p.close());
      const u = await upstreamFor('ws-close');
      const app = appName();
      await routeLive(app, [u.port], p);
      const ws = await upgrade(p.port, hostOf(app));
      cleanups.push(() => ws.socket.destroy());
      expect((await ws.echo(Buffer.from('ping'))).toString()).to.equal('ping');

      const started = Date.now();
      const closed = await Promise.race([p.close().then(() => 'closed'), sleep(3000).then(() => 'still closing')]);
      const elapsed = Date.now() - started;
      expect(closed, `close() with an open WebSocket: ${closed} after ${elapsed} ms`).to.equal('closed');
      expect(elapsed).to.be.below(2000);
    });
  });
});
