import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { keys } from '../../src/core/keys.ts';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { publishEvent } from '../../src/events/stream.ts';
import { startProxy, type ProxyHandle } from '../../src/proxy/index.ts';
import { startTestRedis } from '../support/redis.ts';

const DOMAIN = 'gasper.test';
const run = promisify(execFile);
const suffix = () => crypto.randomBytes(4).toString('hex');

/** curl through the proxy with a Host header: status, content type and body. */
async function curl(port: number, host: string, path: string): Promise<{ status: number; type: string; body: string }> {
  const { stdout } = await run('curl', [
    '-s',
    '-H',
    `Host: ${host}`,
    '-w',
    '\n%{http_code} %{content_type}',
    `http://127.0.0.1:${port}${path}`,
  ]);
  const cut = stdout.lastIndexOf('\n');
  const [status, type] = stdout.slice(cut + 1).split(' ');
  return { status: Number(status), type: type ?? '', body: stdout.slice(0, cut) };
}

async function waitFor(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('proxy: custom domains and ACME HTTP-01 answers (real Redis)', function () {
  this.timeout(20_000);
  let redis: EmbeddedRedisHandle;
  let pub: Redis;
  let proxy: ProxyHandle;
  let upstream: http.Server;
  let upstreamPort: number;
  const seen: string[] = [];

  before(async () => {
    redis = await startTestRedis();
    pub = connectRedis(redis.url);
    upstream = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end(`app at ${req.headers.host}`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as AddressInfo).port;
    proxy = await startProxy(
      { host: '127.0.0.1', port: 0, domain: DOMAIN, redisUrl: redis.url },
      { log: createLogger('silent') },
    );
  });

  after(async () => {
    await proxy?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
    pub?.disconnect();
    await redis?.close();
  });

  async function appWithDomain(): Promise<{ app: string; domain: string }> {
    const app = `shop-${suffix()}`;
    const domain = `${app}.example.com`;
    await publishEvent(pub, {
      type: 'app.instances',
      app,
      release: 'r1',
      instances: [{ node: 'n1', address: '127.0.0.1', port: upstreamPort, container: 'c1' }],
    });
    await publishEvent(pub, { type: 'domain.state', domain, app });
    await waitFor(() => proxy.routes.domainApp(domain) === app && proxy.routes.has(app), `route of ${domain}`);
    return { app, domain };
  }

  it('routes a custom domain of a domain.state event to its app, and stops on domain.removed', async () => {
    const { domain } = await appWithDomain();
    const reply = await curl(proxy.port, domain, '/');
    expect(reply).to.include({ status: 200, body: `app at ${domain}` });
    await publishEvent(pub, { type: 'domain.removed', domain });
    await waitFor(() => proxy.routes.domainApp(domain) === undefined, 'domain removed');
    expect((await curl(proxy.port, domain, '/')).status).to.equal(404);
  });

  it('answers /.well-known/acme-challenge/<token> from Redis for any Host, as text/plain, never forwarded', async () => {
    const { domain } = await appWithDomain();
    const token = `tok_${suffix()}-A`;
    await pub.set(keys.acmeChallenge(token), `${token}.thumbprint`, 'EX', 60);
    seen.length = 0;
    for (const host of [domain, 'never-heard-of.example.org', `x.${DOMAIN}`]) {
      const reply = await curl(proxy.port, host, `/.well-known/acme-challenge/${token}`);
      expect(reply, host).to.deep.equal({ status: 200, type: 'text/plain', body: `${token}.thumbprint` });
    }
    expect(seen, 'requests the app saw').to.deep.equal([]);
  });

  it('answers 404 for an unknown or malformed token, also on a routed domain', async () => {
    const { domain } = await appWithDomain();
    seen.length = 0;
    expect((await curl(proxy.port, domain, `/.well-known/acme-challenge/missing${suffix()}`)).status).to.equal(404);
    expect((await curl(proxy.port, domain, '/.well-known/acme-challenge/a.b')).status).to.equal(404);
    expect((await curl(proxy.port, domain, '/.well-known/acme-challenge/')).status).to.equal(404);
    expect(seen).to.deep.equal([]);
    // Other /.well-known paths are the app's.
    expect((await curl(proxy.port, domain, '/.well-known/security.txt')).status).to.equal(200);
  });
});
