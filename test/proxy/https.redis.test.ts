import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { createSecretBox } from '../../src/core/secret-box.ts';
import { publishEvent } from '../../src/events/stream.ts';
import { startProxy, type ProxyHandle } from '../../src/proxy/index.ts';
import { CertificateStore } from '../../src/store/certificates.ts';
import { issueTestCertificate, makeTestCa, type TestCa, type TestCertificate } from '../support/certificates.ts';
import { startTestRedis } from '../support/redis.ts';

const DOMAIN = 'gasper.test';
const run = promisify(execFile);
const suffix = () => crypto.randomBytes(4).toString('hex');
const silent = createLogger('silent');

interface CurlReply {
  /** curl's exit code (0: the TLS handshake and the certificate check passed). */
  exit: number;
  status: number;
  body: string;
  /** The served certificate's subject, as curl shows it (`CN = …`). */
  subject: string;
}

/** `curl --resolve <host>:<port>:127.0.0.1 --cacert <ca> https://<host>:<port><path>`: the real client check. */
async function curlTls(
  ca: TestCa,
  host: string,
  port: number,
  urlPath = '/',
  extra: string[] = [],
): Promise<CurlReply> {
  const args = [
    '-s',
    '--max-time',
    '5',
    '--resolve',
    `${host}:${port}:127.0.0.1`,
    '--cacert',
    ca.certFile,
    '-w',
    '\n@@status %{http_code}\n%{certs}',
    ...extra,
    `https://${host}:${port}${urlPath}`,
  ];
  try {
    const { stdout } = await run('curl', args);
    const cut = stdout.lastIndexOf('\n@@status ');
    const [status = '0', certs = ''] = stdout.slice(cut + 10).split(/\n(.*)/s);
    const subject = /Subject:\s*(.*)/.exec(certs)?.[1]?.trim() ?? '';
    return { exit: 0, status: Number(status), body: stdout.slice(0, cut), subject };
  } catch (err) {
    return { exit: (err as { code: number }).code, status: 0, body: '', subject: '' };
  }
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('proxy: HTTPS listener (openssl-made certificates, curl, real Redis)', function () {
  this.timeout(30_000);
  let dir: string;
  let ca: TestCa;
  let wildcard: TestCertificate;
  let redis: EmbeddedRedisHandle;
  let pub: Redis;
  let store: CertificateStore;
  let proxy: ProxyHandle;
  let upstream: http.Server;
  const secretKey = crypto.randomBytes(32).toString('hex');
  const platformCert = () => path.join(dir, 'platform', 'tls.pem');
  const platformKey = () => path.join(dir, 'platform', 'tls.key');
  const app = `web-${suffix()}`;
  const appHost = `${app}.${DOMAIN}`;

  /** Replaces the platform files the way certbot or `mv` does: new files renamed over the old. */
  async function replacePlatformFiles(cert: TestCertificate): Promise<void> {
    await fs.copyFile(cert.certFile, `${platformCert()}.new`);
    await fs.copyFile(cert.keyFile, `${platformKey()}.new`);
    await fs.rename(`${platformKey()}.new`, platformKey());
    await fs.rename(`${platformCert()}.new`, platformCert());
  }

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-tls-'));
    await fs.mkdir(path.join(dir, 'platform'));
    ca = await makeTestCa(dir);
    wildcard = await issueTestCertificate(ca, [`*.${DOMAIN}`, DOMAIN], 'wildcard-1', { cn: 'platform-1' });
    await replacePlatformFiles(wildcard);
    redis = await startTestRedis();
    pub = connectRedis(redis.url);
    store = new CertificateStore(pub, createSecretBox(secretKey));
    upstream = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ host: req.headers.host, headers: req.headers }));
    });
    upstream.on('upgrade', (_req, socket: Socket, head: Buffer) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      if (head.length) socket.write(head);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    await publishEvent(pub, {
      type: 'app.instances',
      app,
      release: 'r1',
      instances: [{ node: 'n1', address: '127.0.0.1', port: (upstream.address() as AddressInfo).port, container: 'c' }],
    });
    proxy = await startProxy(
      {
        host: '127.0.0.1',
        port: 0,
        httpsPort: 0,
        domain: DOMAIN,
        redisUrl: redis.url,
        tlsCertFile: platformCert(),
        tlsKeyFile: platformKey(),
        // Long: a replaced file must be seen by the watch, not by the periodic check.
        tlsCheckIntervalMs: 600_000,
        secretKey,
        platformHost: `gasper.${DOMAIN}`,
        platformUpstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      },
      { log: silent },
    );
  });

  after(async () => {
    await proxy?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
    pub?.disconnect();
    await redis?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('serves <app>.<domain> with the platform certificate, routed as plain HTTP, with X-Forwarded-Proto: https', async () => {
    const reply = await curlTls(ca, appHost, proxy.httpsPort!, '/headers');
    expect(reply.exit, 'curl exit code').to.equal(0);
    expect(reply.status).to.equal(200);
    expect(reply.subject).to.include('platform-1');
    const seen = JSON.parse(reply.body) as { headers: Record<string, string> };
    expect(seen.headers['x-forwarded-proto']).to.equal('https');
    expect(seen.headers['x-forwarded-host']).to.equal(`${appHost}:${proxy.httpsPort}`);
    // Plain HTTP on the other listener still says http.
    const { stdout } = await run('curl', ['-s', '-H', `Host: ${appHost}`, `http://127.0.0.1:${proxy.port}/`]);
    expect(JSON.parse(stdout).headers['x-forwarded-proto']).to.equal('http');
  });

  it('serves the bare domain with the platform certificate (no app there: 404 after a valid handshake)', async () => {
    const reply = await curlTls(ca, DOMAIN, proxy.httpsPort!);
    expect(reply).to.include({ exit: 0, status: 404 });
  });

  it("chooses a custom domain's own certificate by SNI, from the store, and a renewed one when its version changes", async () => {
    const domain = `shop-${suffix()}.example.com`;
    const first = await issueTestCertificate(ca, [domain], undefined, { cn: 'custom-1' });
    const put = async (cert: TestCertificate, version: string) => {
      await store.put({
        domain,
        certPem: cert.certPem,
        keyPem: cert.keyPem,
        issuer: 'Gasper Test CA',
        notBefore: new Date().toISOString(),
        notAfter: new Date(Date.now() + 86_400_000).toISOString(),
        version,
      });
      await publishEvent(pub, { type: 'domain.state', domain, app, certificate: { version, notAfter: 'x' } });
    };
    // Without a certificate of its own the platform certificate answers, which curl rightly refuses.
    await publishEvent(pub, { type: 'domain.state', domain, app });
    await waitUntil(async () => proxy.routes.domainApp(domain) === app, 'the domain routed');
    expect((await curlTls(ca, domain, proxy.httpsPort!)).exit, 'curl: certificate does not match').to.equal(60);

    await put(first, 'v1');
    await waitUntil(async () => (await curlTls(ca, domain, proxy.httpsPort!)).exit === 0, 'custom certificate served');
    const reply = await curlTls(ca, domain, proxy.httpsPort!, '/');
    expect(reply.status).to.equal(200);
    expect(reply.subject).to.include('custom-1');
    expect(JSON.parse(reply.body).host).to.equal(`${domain}:${proxy.httpsPort}`);
    // The platform names keep the platform certificate.
    expect((await curlTls(ca, appHost, proxy.httpsPort!)).subject).to.include('platform-1');

    await put(await issueTestCertificate(ca, [domain], undefined, { cn: 'custom-2' }), 'v2');
    await waitUntil(
      async () => (await curlTls(ca, domain, proxy.httpsPort!)).subject.includes('custom-2'),
      'renewed certificate',
    );
    await publishEvent(pub, { type: 'domain.removed', domain });
    await waitUntil(async () => (await curlTls(ca, domain, proxy.httpsPort!)).exit === 60, 'domain removed');
  });

  it('resumes a TLS session on another proxy of the installation (ticket keys shared in Redis), not on another installation', async () => {
    const caPem = await fs.readFile(ca.certFile, 'utf8');
    // Another installation: its own Redis, where its own ticket keys are.
    const otherRedis = await startTestRedis();
    const another = (key: string, url = redis.url) =>
      startProxy(
        {
          host: '127.0.0.1',
          port: 0,
          httpsPort: 0,
          domain: DOMAIN,
          redisUrl: url,
          tlsCertFile: platformCert(),
          tlsKeyFile: platformKey(),
          tlsCheckIntervalMs: 600_000,
          secretKey: key,
        },
        { log: silent },
      );
    /**
     * A handshake with `session` offered: whether the server resumed it, and the ticket it gave
     * (TLS 1.3 sends tickets after the handshake; a resumed TLS 1.2 session gets none).
     */
    const handshake = (port: number, version: tls.SecureVersion, session?: Buffer) =>
      new Promise<{ reused: boolean; ticket: Buffer | undefined }>((resolve, reject) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port,
          servername: appHost,
          ca: [caPem],
          minVersion: version,
          maxVersion: version,
          ...(session ? { session } : {}),
        });
        let ticket: Buffer | undefined;
        socket.on('session', (t: Buffer) => {
          ticket = t;
        });
        socket.once('secureConnect', () => {
          // A request and its answer: by then every ticket the server sends has arrived.
          socket.write(`GET / HTTP/1.1\r\nHost: ${appHost}\r\nConnection: close\r\n\r\n`);
        });
        socket.on('data', () => undefined);
        socket.once('end', () => resolve({ reused: socket.isSessionReused(), ticket }));
        socket.once('error', reject);
      });
    const sibling = await another(secretKey);
    const stranger = await another(crypto.randomBytes(32).toString('hex'), otherRedis.url);
    try {
      for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
        const first = await handshake(proxy.httpsPort!, version);
        expect(first.reused, version).to.equal(false);
        expect((await handshake(sibling.httpsPort!, version, first.ticket)).reused, `${version} sibling`).to.equal(
          true,
        );
        expect((await handshake(stranger.httpsPort!, version, first.ticket)).reused, `${version} stranger`).to.equal(
          false,
        );
      }
    } finally {
      await sibling.close();
      await stranger.close();
      await otherRedis.close();
    }
    // The keys are random and kept in Redis (nothing long-lived derives them), one per period.
    const stored = await pub.keys('gasper:tls:ticket-keys:*');
    expect(stored).to.have.length(1);
    expect(Buffer.from((await pub.get(stored[0]!))!, 'base64')).to.have.length(48);
  });

  it('refuses TLS 1.1 (the server sends protocol_version), accepts TLS 1.2 and 1.3', async () => {
    const error = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: proxy.httpsPort!,
        servername: appHost,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        // The client's own OpenSSL would refuse TLS 1.1 at its default security level.
        ciphers: 'DEFAULT@SECLEVEL=0',
        rejectUnauthorized: false,
      });
      socket.once('secureConnect', () => reject(new Error(`TLS 1.1 was accepted (${socket.getProtocol()})`)));
      socket.once('error', resolve);
    });
    expect(error.code).to.equal('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    expect((await curlTls(ca, appHost, proxy.httpsPort!, '/', ['--tls-max', '1.2'])).status).to.equal(200);
    expect((await curlTls(ca, appHost, proxy.httpsPort!, '/', ['--tlsv1.3'])).status).to.equal(200);
  });

  it('passes a WebSocket upgrade through over TLS and echoes bytes both ways', async () => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: proxy.httpsPort!,
      servername: appHost,
      ca: await fs.readFile(ca.certFile),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: ${appHost}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
      let received = '';
      await new Promise<void>((resolve, reject) => {
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          if (received.includes('\r\n\r\n') && !received.includes('ping-')) socket.write('ping-over-tls');
          if (received.includes('ping-over-tls')) resolve();
        });
        socket.once('error', reject);
      });
      expect(received).to.match(/^HTTP\/1\.1 101/);
    } finally {
      socket.destroy();
    }
  });

  it('serves a platform certificate replaced on disk without a restart; a broken replacement keeps the previous one', async () => {
    const second = await issueTestCertificate(ca, [`*.${DOMAIN}`, DOMAIN], 'wildcard-2', { cn: 'platform-2' });
    await replacePlatformFiles(second);
    await waitUntil(
      async () => (await curlTls(ca, appHost, proxy.httpsPort!)).subject.includes('platform-2'),
      'the replaced certificate',
    );
    // A key of another certificate: refused, the current one keeps serving.
    const other = await issueTestCertificate(ca, [`*.${DOMAIN}`], 'other', { cn: 'platform-3' });
    await fs.copyFile(other.certFile, platformCert());
    await new Promise((r) => setTimeout(r, 500));
    const reply = await curlTls(ca, appHost, proxy.httpsPort!);
    expect(reply).to.include({ exit: 0, status: 200 });
    expect(reply.subject).to.include('platform-2');
    // Its key arrives: the pair is whole again.
    await fs.copyFile(other.keyFile, platformKey());
    await waitUntil(
      async () => (await curlTls(ca, appHost, proxy.httpsPort!)).subject.includes('platform-3'),
      'the completed pair',
    );
    await replacePlatformFiles(wildcard);
  });

  /** A plain HTTP request to the proxy: status and headers, redirects not followed. */
  async function plainHttp(host: string, urlPath: string): Promise<{ status: number; location?: string }> {
    const { stdout } = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-H',
      `Host: ${host}`,
      '-w',
      '%{http_code} %{redirect_url}',
      `http://127.0.0.1:${proxy.port}${urlPath}`,
    ]);
    const [status, location] = stdout.split(' ');
    return { status: Number(status), ...(location ? { location } : {}) };
  }

  async function hstsOf(host: string): Promise<string | undefined> {
    const { stdout } = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-D',
      '-',
      '--resolve',
      `${host}:${proxy.httpsPort}:127.0.0.1`,
      '--cacert',
      ca.certFile,
      `https://${host}:${proxy.httpsPort}/`,
    ]);
    return /^strict-transport-security:\s*(.*?)\r?$/im.exec(stdout)?.[1];
  }

  it('per app: https "redirect" answers plain HTTP with 308 to https (ACME challenges excepted), hsts adds the header over HTTPS', async () => {
    const secure = `secure-${suffix()}`;
    const secureHost = `${secure}.${DOMAIN}`;
    const port = (upstream.address() as AddressInfo).port;
    await publishEvent(pub, {
      type: 'app.instances',
      app: secure,
      release: 'r1',
      instances: [{ node: 'n1', address: '127.0.0.1', port, container: 'c' }],
    });
    await publishEvent(pub, { type: 'app.edge', app: secure, https: 'redirect', hsts: true });
    await waitUntil(async () => proxy.routes.edgeOf(secure)?.hsts === true, 'the edge settings');
    expect(await plainHttp(secureHost, '/a/b?c=d')).to.deep.equal({
      status: 308,
      location: `https://${secureHost}:${proxy.httpsPort}/a/b?c=d`,
    });
    // The CA's HTTP-01 request is answered, not redirected.
    expect((await plainHttp(secureHost, '/.well-known/acme-challenge/nothing-here')).status).to.equal(404);
    expect(await hstsOf(secureHost)).to.equal('max-age=31536000');
    // Apps without settings: plain HTTP served, no HSTS.
    expect((await plainHttp(appHost, '/')).status).to.equal(200);
    expect(await hstsOf(appHost)).to.equal(undefined);
    // Back to the defaults.
    await publishEvent(pub, { type: 'app.edge', app: secure, https: 'allow', hsts: false });
    await waitUntil(async () => proxy.routes.edgeOf(secure) === undefined, 'the defaults');
    expect((await plainHttp(secureHost, '/')).status).to.equal(200);
    expect(await hstsOf(secureHost)).to.equal(undefined);
  });

  it('redirects a custom domain only once its own certificate is loaded: pending, it is served over plain HTTP', async () => {
    const secure = `sec-${suffix()}`;
    const domain = `pending-${suffix()}.example.com`;
    const port = (upstream.address() as AddressInfo).port;
    await publishEvent(pub, {
      type: 'app.instances',
      app: secure,
      release: 'r1',
      instances: [{ node: 'n1', address: '127.0.0.1', port, container: 'c' }],
    });
    await publishEvent(pub, { type: 'app.edge', app: secure, https: 'redirect', hsts: false });
    await publishEvent(pub, { type: 'domain.state', domain, app: secure });
    await waitUntil(async () => proxy.routes.domainApp(domain) === secure, 'the domain routed');
    // No certificate covers it (the platform one is for *.gasper.test): a redirect would fail in the browser.
    expect(await plainHttp(domain, '/a')).to.deep.equal({ status: 200 });
    // Its own name under the platform domain is covered: redirected.
    expect((await plainHttp(`${secure}.${DOMAIN}`, '/a')).status).to.equal(308);

    const cert = await issueTestCertificate(ca, [domain], undefined, { cn: 'pending-1' });
    await store.put({
      domain,
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      issuer: 'Gasper Test CA',
      notBefore: new Date().toISOString(),
      notAfter: new Date(Date.now() + 86_400_000).toISOString(),
      version: 'v1',
    });
    await publishEvent(pub, {
      type: 'domain.state',
      domain,
      app: secure,
      certificate: { version: 'v1', notAfter: 'x' },
    });
    await waitUntil(async () => (await plainHttp(domain, '/a')).status === 308, 'redirected once covered');
    expect(await plainHttp(domain, '/a?b')).to.deep.equal({
      status: 308,
      location: `https://${domain}:${proxy.httpsPort}/a?b`,
    });
  });

  it('forwards the platform host to the API address over HTTPS, and redirects it from plain HTTP', async () => {
    const platformHost = `gasper.${DOMAIN}`;
    const reply = await curlTls(ca, platformHost, proxy.httpsPort!, '/headers');
    expect(reply).to.include({ exit: 0, status: 200 });
    expect(JSON.parse(reply.body).headers['x-forwarded-proto']).to.equal('https');
    expect(await plainHttp(platformHost, '/apps')).to.deep.equal({
      status: 308,
      location: `https://${platformHost}:${proxy.httpsPort}/apps`,
    });
  });

  it('refuses to start with an unreadable or mismatched platform certificate, saying which and why', async () => {
    const base = { host: '127.0.0.1', port: 0, httpsPort: 0, domain: DOMAIN, redisUrl: redis.url };
    const missing = path.join(dir, 'missing.pem');
    const startWith = (tlsCertFile: string, tlsKeyFile: string) =>
      startProxy({ ...base, tlsCertFile, tlsKeyFile }, { log: silent }).then(
        async (p) => {
          await p.close();
          return 'started';
        },
        (err: Error) => err.message,
      );
    expect(await startWith(missing, wildcard.keyFile)).to.equal(`GASPER_TLS_CERT: cannot read ${missing} (ENOENT)`);
    const other = await issueTestCertificate(ca, [`*.${DOMAIN}`], 'mismatch');
    expect(await startWith(wildcard.certFile, other.keyFile)).to.match(
      /^GASPER_TLS_CERT \/ GASPER_TLS_KEY .*: the private key is not the certificate's$/,
    );
    expect(await startWith(wildcard.keyFile, wildcard.keyFile)).to.match(/not a PEM certificate/);
  });
});
