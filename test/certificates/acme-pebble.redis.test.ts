import { execFile } from 'node:child_process';
import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { utcTime } from '../../src/certificates/domain-outcome.ts';
import { startCertificates, type CertificatesHandle } from '../../src/certificates/index.ts';
import { keys } from '../../src/core/keys.ts';
import { createLogger } from '../../src/core/log.ts';
import { createSecretBox } from '../../src/core/secret-box.ts';
import { publishEvent } from '../../src/events/stream.ts';
import { enqueueCertificate } from '../../src/jobs/certificate-jobs.ts';
import { startProxy, type ProxyHandle } from '../../src/proxy/index.ts';
import { CertificateStore } from '../../src/store/certificates.ts';
import { DomainStore } from '../../src/store/domains.ts';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from '../api/api-fixture.ts';
import { startPebble, type PebbleHandle } from '../support/pebble.ts';

const run = promisify(execFile);
const day = 24 * 3600_000;

async function waitFor<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first 16 hex digits of the SHA-256 fingerprint of the certificate served for `domain` (its version). */
function servedVersion(port: number, domain: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: domain, ca }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert.fingerprint256.replaceAll(':', '').slice(0, 16).toLowerCase());
    });
    socket.on('error', reject);
  });
}

/**
 * Automatic certificates against a real ACME server: a domain added through the API, pebble
 * validating HTTP-01 through the real proxy (its answers come from Redis), the certificates service
 * ordering, storing and renewing, and the proxy serving the result over HTTPS by SNI.
 */
describe('certificates: ACME with pebble (real Redis, API, proxy)', function () {
  this.timeout(120_000);
  let fx: ApiFixture;
  let proxy: ProxyHandle;
  let pebble: PebbleHandle;
  let service: CertificatesHandle;
  let upstream: http.Server;
  let domains: DomainStore;
  let certificates: CertificateStore;
  let dir: string;
  let rootFile: string;
  let root: string;
  /** How far the service's clock is ahead of the real one (renewals are forced by moving it). */
  let clockAhead = 0;
  /** The cluster's secret key, shared by the certificates service (seals) and the proxy (opens). */
  const secretKey = crypto.randomBytes(32).toString('hex');
  const secrets = createSecretBox(secretKey);
  const app = appName('shop');

  before(async () => {
    fx = await startApiFixture({ domain: 'apps.test', proxyAddresses: ['127.0.0.1'] });
    await fx.registerNode(`n-${suffix()}`);
    const redisUrl = `redis://127.0.0.1:${fx.redis.options.port}`;
    upstream = http.createServer((req, res) => res.end(`hello from ${req.headers.host}`));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    proxy = await startProxy(
      { host: '127.0.0.1', port: 0, httpsPort: 0, domain: 'apps.test', redisUrl, secretKey },
      { log: createLogger('silent') },
    );
    pebble = await startPebble({ httpPort: proxy.port });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-acme-test-'));
    root = await pebble.root();
    rootFile = path.join(dir, 'pebble-root.pem');
    await fs.writeFile(rootFile, root);
    service = await startCertificates(
      {
        redisUrl,
        directoryUrl: pebble.directoryUrl,
        email: 'ops@example.com',
        caCertFile: pebble.listenerCaFile,
        proxyAddresses: ['127.0.0.1'],
        dnsServers: [pebble.dnsServer],
        retry: { baseDelayMs: 200, maxDelayMs: 1000 },
        poll: { attempts: 30, minMs: 100, maxMs: 500 },
        clock: () => Date.now() + clockAhead,
      },
      { log: createLogger('silent'), secrets },
    );
    domains = new DomainStore(fx.redis);
    certificates = new CertificateStore(fx.redis, secrets);
    await fx.post('/apps').send(validBody(app)).expect(202);
    // The app's one instance: the test's HTTP server.
    await publishEvent(fx.redis, {
      type: 'app.instances',
      app,
      release: 'r1',
      instances: [{ node: 'n', address: '127.0.0.1', port: (upstream.address() as AddressInfo).port, container: 'c1' }],
    });
  });

  after(async () => {
    await service?.close();
    await proxy?.close();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
    await pebble?.close();
    await fx?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const issuedDomain = `www.${app}.example.com`;

  /** Adds a domain through the API and publishes its ownership proof in the mock DNS. */
  async function addVerified(domain: string): Promise<{ job: { url: string }; domain: { status: string } }> {
    const added = await fx.post(`/apps/${app}/domains`).send({ domain }).expect(202);
    const proof = added.body.domain.verification;
    expect(proof.name).to.equal(`_gasper-verify.${domain}`);
    await pebble.setTxt(proof.name, proof.value);
    return added.body;
  }

  it('a domain added through the API is issued: pebble is its issuer, notAfter set, key sealed, announced', async () => {
    const started = Date.now();
    const added = { body: await addVerified(issuedDomain) };
    expect(added.body.domain.status).to.equal('pending');
    const view = await waitFor('issued', async () => {
      const d = (await fx.get(`/apps/${app}/domains/${issuedDomain}`).expect(200)).body.domain;
      if (d.status === 'failed') throw new Error(`failed: ${d.lastError}`);
      return d.status === 'issued' ? d : undefined;
    });
    console.log(`      issued in ${Date.now() - started} ms (API request to status issued)`);
    const { job } = (await fx.get(added.body.job.url).expect(200)).body;
    expect(job).to.include({ state: 'completed', node: null, blocked: null });
    expect(job.result).to.include({ result: 'issued', domain: issuedDomain });
    // The last attempt's steps (an earlier one may have run before the TXT record was set).
    const steps = job.log.slice(-4);
    expect(steps[0]).to.equal(
      `checking that the TXT record _gasper-verify.${issuedDomain} holds the domain's verification token`,
    );
    expect(steps[1]).to.equal(`checking that ${issuedDomain} resolves to 127.0.0.1`);
    expect(steps[2]).to.equal(`ordering a certificate from ${pebble.directoryUrl} (HTTP-01)`);
    expect(steps[3]).to.match(/^storing the certificate from Pebble Intermediate CA \S+, valid until \d{4}-/);
    const doc = (await domains.get(issuedDomain))!;
    expect(doc.certificate?.issuer).to.match(/^Pebble Intermediate CA/);
    expect(JSON.stringify(view)).to.include(doc.certificate!.notAfter);
    expect(Date.parse(doc.certificate!.notAfter)).to.be.greaterThan(Date.now());
    expect(doc.lastError).to.equal(undefined);

    const served = (await certificates.get(issuedDomain))!;
    const leaf = new X509Certificate(served.certPem);
    expect(leaf.subjectAltName).to.equal(`DNS:${issuedDomain}`);
    expect(leaf.checkPrivateKey(crypto.createPrivateKey(served.keyPem))).to.equal(true);
    // The chain ends at pebble's root (from its management port).
    const chain = served.certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    const intermediate = new X509Certificate(chain[1]!);
    expect(leaf.verify(intermediate.publicKey)).to.equal(true);
    expect(intermediate.verify(new X509Certificate(root).publicKey)).to.equal(true);
    // At rest the key is sealed, never PEM.
    expect(await fx.redis.get(keys.certificate(issuedDomain))).not.to.include('PRIVATE KEY');
    // The proxies learn the version from the event snapshot.
    const latest = JSON.parse((await fx.redis.hget(keys.eventsLatest, `domain:${issuedDomain}`))!);
    expect(latest.certificate).to.deep.equal({
      version: doc.certificate!.version,
      notAfter: doc.certificate!.notAfter,
    });
    // One account for the installation, its key sealed, its URL at this directory kept.
    const account = JSON.parse((await fx.redis.get(keys.acmeAccount))!);
    expect(account.keySealed).to.match(/^v1:/);
    expect(Object.keys(account.urls)).to.deep.equal([pebble.directoryUrl]);
  });

  it('is served over HTTPS by SNI: curl trusts it with pebble’s root', async () => {
    const version = (await domains.get(issuedDomain))!.certificate!.version;
    await waitFor('served', async () =>
      (await servedVersion(proxy.httpsPort!, issuedDomain, root).catch(() => '')) === version ? true : undefined,
    );
    const url = `https://${issuedDomain}:${proxy.httpsPort}/`;
    const { stdout } = await run('curl', [
      '-sS',
      '--resolve',
      `${issuedDomain}:${proxy.httpsPort}:127.0.0.1`,
      '--cacert',
      rootFile,
      '-w',
      '\n%{http_code}',
      url,
    ]);
    expect(stdout).to.equal(`hello from ${issuedDomain}:${proxy.httpsPort}\n200`);
  });

  it('renews once a third of the lifetime is left: a new version, served', async () => {
    const accountBefore = await fx.redis.get(keys.acmeAccount);
    const before = (await domains.get(issuedDomain))!.certificate!;
    expect(await service.sweep()).to.deep.equal([]);
    // Move the service's clock past the renewal point.
    clockAhead = Date.parse(before.notAfter) - Date.now() - 1000;
    const started = Date.now();
    expect(await service.sweep()).to.deep.equal([issuedDomain]);
    const renewed = await waitFor('renewed', async () => {
      const d = await domains.get(issuedDomain);
      return d?.certificate && d.certificate.version !== before.version ? d : undefined;
    });
    console.log(`      renewed in ${Date.now() - started} ms`);
    clockAhead = 0;
    expect(renewed.status).to.equal('issued');
    // The same account renewed it: created once per installation.
    expect(await fx.redis.get(keys.acmeAccount)).to.equal(accountBefore);
    expect((await certificates.get(issuedDomain))!.version).to.equal(renewed.certificate!.version);
    await waitFor('new certificate served', async () =>
      (await servedVersion(proxy.httpsPort!, issuedDomain, root)) === renewed.certificate!.version ? true : undefined,
    );
  });

  it('a failed renewal keeps the old certificate serving and says why on the domain', async () => {
    const before = (await domains.get(issuedDomain))!.certificate!;
    // The domain now resolves elsewhere: the DNS check refuses before any order.
    await pebble.setA(issuedDomain, ['192.0.2.44']);
    clockAhead = Date.parse(before.notAfter) - Date.now() - 1000;
    expect(await service.sweep()).to.deep.equal([issuedDomain]);
    const failed = await waitFor('renewalError', async () => {
      const d = (await fx.get(`/apps/${app}/domains/${issuedDomain}`).expect(200)).body.domain;
      return d.renewalError ? d : undefined;
    });
    expect(failed.status).to.equal('issued');
    expect(failed.renewalError).to.match(
      new RegExp(
        `^DNS: ${issuedDomain.replaceAll('.', '\\.')} points to 192\\.0\\.2\\.44, not to this platform\\. Point its A/AAAA records to 127\\.0\\.0\\.1\\.`,
      ),
    );
    const doc = (await domains.get(issuedDomain))!;
    expect(doc.certificate).to.deep.equal(before);
    expect(doc.nextAttemptAt).to.be.a('string');
    expect(failed.renewalError).to.match(new RegExp(` Gasper tries again at ${utcTime(doc.nextAttemptAt!)}\\.$`));
    expect(await servedVersion(proxy.httpsPort!, issuedDomain, root)).to.equal(before.version);
    clockAhead = 0;
    await pebble.setA(issuedDomain, ['127.0.0.1']);
  });

  it('a domain whose DNS is not set yet stays pending with the reason, and is issued by a retry once it is', async () => {
    const domain = `late.${app}.example.com`;
    await pebble.setA(domain, ['192.0.2.50']);
    await addVerified(domain);
    // The DNS check's message: a first attempt may have run before the TXT record was set, and
    // said so (the ownership check comes first); its retry then reaches the A record.
    const waiting = await waitFor('pending with the DNS check as lastError', async () => {
      const d = (await fx.get(`/apps/${app}/domains/${domain}`).expect(200)).body.domain;
      return d.lastError?.startsWith('DNS:') ? d : undefined;
    });
    expect(waiting.status).to.equal('pending');
    expect(waiting.lastError).to.match(
      new RegExp(
        `^DNS: ${domain.replaceAll('.', '\\.')} points to 192\\.0\\.2\\.50, not to this platform\\. .* Gasper tries again at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\.$`,
      ),
    );
    expect(waiting.nextAttemptAt).to.be.a('string');
    // The record is fixed: the job's next attempt (BullMQ's backoff, from the retry plan) gets it.
    await pebble.setA(domain, ['127.0.0.1']);
    const issued = await waitFor('issued', async () => {
      const d = await domains.get(domain);
      if (d?.status === 'failed') throw new Error(`failed: ${d.lastError}`);
      return d?.status === 'issued' ? d : undefined;
    });
    expect(issued.lastError).to.equal(undefined);
    expect(issued.nextAttemptAt).to.equal(undefined);
    await fx.del(`/apps/${app}/domains/${domain}`).expect(204);
  });

  it('removal through the API drops the certificate; HTTPS no longer serves it; a later job leaves it gone', async () => {
    await fx.del(`/apps/${app}/domains/${issuedDomain}`).expect(204);
    expect(await certificates.get(issuedDomain)).to.equal(undefined);
    await waitFor('certificate unserved', async () => {
      const version = await servedVersion(proxy.httpsPort!, issuedDomain, root).catch(() => 'refused');
      return version === 'refused' ? true : undefined;
    });
    clockAhead = 365 * day;
    expect(await service.sweep()).to.deep.equal([]);
    clockAhead = 0;
    const job = await enqueueCertificate(fx.redis, fx.queues, { kind: 'issue', domain: issuedDomain });
    const result = await waitFor('job result', async () => {
      const j = await fx.queues.byName(job.queue).getJob(job.id);
      return j?.returnvalue ?? undefined;
    });
    expect(result).to.deep.equal({ result: 'gone', domain: issuedDomain });
    expect(await fx.redis.exists(keys.certificate(issuedDomain))).to.equal(0);
  });

  const brokenDomain = `broken.${app}.example.com`;

  it('a domain whose challenge the CA cannot reach shows failed with the CA reason', async () => {
    const domain = brokenDomain;
    // Port 80 (here: the proxy's port, which pebble validates against) does not answer.
    await proxy.close();
    await addVerified(domain);
    const view = await waitFor('failed', async () => {
      const d = (await fx.get(`/apps/${app}/domains/${domain}`).expect(200)).body.domain;
      return d.status === 'failed' ? d : undefined;
    });
    console.log(`      lastError: ${view.lastError}`);
    expect(view.lastError).to.match(/^The certificate authority refused: .*connection refused/i);
    expect(view.lastError).to.include(`The CA could not connect to http://${domain}/.well-known/acme-challenge/`);
    // Given up, but not for good: the sweep tries again after a backoff, and the message says when.
    expect(view.lastError).to.match(new RegExp(` Gasper tries again at ${utcTime(view.nextAttemptAt)}\\.$`));
    expect(await certificates.get(domain)).to.equal(undefined);
  });

  it('a failed domain is tried again by the sweep after its backoff, and issued once the cause is gone', async () => {
    const failed = (await domains.get(brokenDomain))!;
    expect(failed.nextAttemptAt).to.be.a('string');
    expect(await service.sweep()).to.deep.equal([]);
    // The proxy is back on the port pebble validates against.
    const port = proxy.port;
    proxy = await startProxy(
      {
        host: '127.0.0.1',
        port,
        httpsPort: 0,
        domain: 'apps.test',
        redisUrl: `redis://127.0.0.1:${fx.redis.options.port}`,
        secretKey,
      },
      { log: createLogger('silent') },
    );
    clockAhead = Date.parse(failed.nextAttemptAt!) - Date.now() + 1000;
    expect(await service.sweep()).to.deep.equal([brokenDomain]);
    const issued = await waitFor('issued', async () => {
      const d = await domains.get(brokenDomain);
      return d?.status === 'issued' ? d : undefined;
    });
    clockAhead = 0;
    expect(issued.lastError).to.equal(undefined);
    expect(issued.attempts).to.equal(0);
  });

  const claimed = `claimed.${app}.example.com`;

  it('without the TXT record a domain is neither routed nor certified, and says which record is missing', async () => {
    const added = await fx.post(`/apps/${app}/domains`).send({ domain: claimed }).expect(202);
    const proof = added.body.domain.verification;
    const waiting = await waitFor('lastError', async () => {
      const d = (await fx.get(`/apps/${app}/domains/${claimed}`).expect(200)).body.domain;
      return d.lastError ? d : undefined;
    });
    expect(waiting.status).to.equal('pending');
    expect(waiting.lastError).to.include(
      `Ownership: the TXT record _gasper-verify.${claimed} is missing: create the TXT record _gasper-verify.${claimed} with the value "${proof.value}"`,
    );
    // No proxy knows the name: it is not routed to the app.
    expect(await fx.redis.hget(keys.eventsLatest, `domain:${claimed}`)).to.equal(null);
    const { stdout } = await run('curl', ['-sS', '-H', `Host: ${claimed}`, `http://127.0.0.1:${proxy.port}/`]);
    expect(stdout).not.to.include('hello from');
    // A wrong value says what it holds.
    await pebble.setTxt(proof.name, 'gasper-verify=someone-else');
    await waitFor('wrong value reported', async () => {
      const d = (await domains.get(claimed))!;
      return d.lastError?.includes('holds "gasper-verify=someone-else", not') ? true : undefined;
    });
    expect(await certificates.get(claimed)).to.equal(undefined);
    // The right one: verified, routed, issued (asking again restarts a job that gave up).
    await pebble.setTxt(proof.name, proof.value);
    await enqueueCertificate(fx.redis, fx.queues, { kind: 'issue', domain: claimed });
    const issued = await waitFor('issued', async () => {
      const d = await domains.get(claimed);
      return d?.status === 'issued' ? d : undefined;
    });
    expect(issued.verification?.verifiedAt).to.be.a('string');
    expect(await fx.redis.hget(keys.eventsLatest, `domain:${claimed}`)).to.include(claimed);
    const routed = await run('curl', ['-sS', '-H', `Host: ${claimed}`, `http://127.0.0.1:${proxy.port}/`]);
    expect(routed.stdout).to.equal(`hello from ${claimed}`);
  });

  it('another user cannot take a domain verified by someone else: 409, the route stays', async () => {
    const bob = (
      await fx
        .post('/users')
        .send({ name: `bob-${suffix()}`, role: 'member' })
        .expect(201)
    ).body.token;
    const bobApp = appName('bob');
    await fx.post('/apps', fx.app).set('authorization', `Bearer ${bob}`).send(validBody(bobApp)).expect(202);
    const res = await fx
      .post(`/apps/${bobApp}/domains`)
      .set('authorization', `Bearer ${bob}`)
      .send({ domain: claimed });
    expect(res.status).to.equal(409);
    expect(res.body.code).to.equal('DOMAIN_EXISTS');
    expect((await domains.get(claimed))!.app).to.equal(app);
    await fx.del(`/apps/${app}/domains/${claimed}`).expect(204);
  });
});
