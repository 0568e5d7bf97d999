import crypto, { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { startCertificates, type CertificatesHandle } from '../../src/certificates/index.ts';
import { keys } from '../../src/core/keys.ts';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { createSecretBox } from '../../src/core/secret-box.ts';
import { enqueueCertificate } from '../../src/jobs/certificate-jobs.ts';
import { NodeQueues } from '../../src/jobs/queues.ts';
import { startProxy, type ProxyHandle } from '../../src/proxy/index.ts';
import { CertificateStore } from '../../src/store/certificates.ts';
import type { DomainDocument } from '../../src/store/domain-document.ts';
import { DomainStore } from '../../src/store/domains.ts';
import { startPebble, type PebbleHandle } from '../support/pebble.ts';
import { startTestRedis } from '../support/redis.ts';

const suffix = () => crypto.randomBytes(4).toString('hex');
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

/**
 * Automatic certificates against a real ACME server: pebble validates HTTP-01 through the real
 * proxy (its answers come from Redis), the certificates service orders, stores and renews.
 */
describe('certificates: ACME with pebble (real Redis, real proxy)', function () {
  this.timeout(120_000);
  let redis: EmbeddedRedisHandle;
  let client: Redis;
  let proxy: ProxyHandle;
  let pebble: PebbleHandle;
  let service: CertificatesHandle;
  let queues: NodeQueues;
  let domains: DomainStore;
  let certificates: CertificateStore;
  /** How far the service's clock is ahead of the real one (renewals are forced by moving it). */
  let clockAhead = 0;
  const secrets = createSecretBox(crypto.randomBytes(32).toString('hex'));
  const app = `shop-${suffix()}`;

  before(async () => {
    redis = await startTestRedis();
    client = connectRedis(redis.url);
    proxy = await startProxy(
      { host: '127.0.0.1', port: 0, domain: 'gasper.test', redisUrl: redis.url },
      { log: createLogger('silent') },
    );
    pebble = await startPebble({ httpPort: proxy.port });
    service = await startCertificates(
      {
        redisUrl: redis.url,
        directoryUrl: pebble.directoryUrl,
        email: 'ops@example.com',
        caCertFile: pebble.listenerCaFile,
        proxyAddresses: ['127.0.0.1'],
        dnsServers: [pebble.dnsServer],
        retry: { baseDelayMs: 100, maxDelayMs: 400 },
        poll: { attempts: 30, minMs: 100, maxMs: 500 },
        clock: () => Date.now() + clockAhead,
      },
      { log: createLogger('silent'), secrets },
    );
    queues = new NodeQueues(client);
    domains = new DomainStore(client);
    certificates = new CertificateStore(client, secrets);
  });

  after(async () => {
    await service?.close();
    await queues?.close();
    await proxy?.close();
    await pebble?.close();
    client?.disconnect();
    await redis?.close();
  });

  async function addDomain(domain: string): Promise<void> {
    const now = new Date().toISOString();
    const doc: DomainDocument = {
      domain,
      app,
      appUid: 'uid-1',
      owner: 'alice',
      status: 'pending',
      attempts: 0,
      createdAt: now,
      updatedAt: now,
    };
    expect(await domains.create(doc, 0)).to.equal('created');
    await enqueueCertificate(client, queues, { kind: 'issue', domain, owner: 'alice' });
  }

  const issuedDomain = `www.${app}.example.com`;
  let firstVersion = '';

  it('issues a certificate for a new domain: pebble is its issuer, notAfter set, key sealed, announced', async () => {
    const started = Date.now();
    await addDomain(issuedDomain);
    const doc = await waitFor('issued', async () => {
      const d = await domains.get(issuedDomain);
      if (d?.status === 'failed') throw new Error(`failed: ${d.lastError}`);
      return d?.status === 'issued' ? d : undefined;
    });
    console.log(`      issued in ${Date.now() - started} ms`);
    expect(doc.certificate?.issuer).to.match(/^Pebble Intermediate CA/);
    expect(Date.parse(doc.certificate!.notAfter)).to.be.greaterThan(Date.now());
    expect(doc.lastError).to.equal(undefined);
    firstVersion = doc.certificate!.version;

    const served = (await certificates.get(issuedDomain))!;
    const leaf = new X509Certificate(served.certPem);
    expect(leaf.subjectAltName).to.equal(`DNS:${issuedDomain}`);
    expect(leaf.checkPrivateKey(crypto.createPrivateKey(served.keyPem))).to.equal(true);
    // The chain ends at pebble's root (from its management port).
    const chain = served.certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    const intermediate = new X509Certificate(chain[1]!);
    expect(leaf.verify(intermediate.publicKey)).to.equal(true);
    expect(intermediate.verify(new X509Certificate(await pebble.root()).publicKey)).to.equal(true);
    // At rest the key is sealed, never PEM.
    const raw = (await client.get(keys.certificate(issuedDomain)))!;
    expect(raw).not.to.include('PRIVATE KEY');
    // The proxies learn the version from the event snapshot.
    const latest = JSON.parse((await client.hget(keys.eventsLatest, `domain:${issuedDomain}`))!);
    expect(latest.certificate).to.deep.equal({ version: firstVersion, notAfter: doc.certificate!.notAfter });
    // One account for the installation, its key sealed.
    expect(await client.get(keys.acmeAccount)).to.match(/"keySealed":"v1:/);
  });

  it('renews once a third of the lifetime is left: a new certificate version, errors clear', async () => {
    const before = (await domains.get(issuedDomain))!.certificate!;
    expect(await service.sweep()).to.deep.equal([]);
    // Move the service's clock past the renewal point.
    clockAhead = Date.parse(before.notAfter) - Date.now() - 1000;
    expect(await service.sweep()).to.deep.equal([issuedDomain]);
    const renewed = await waitFor('renewed', async () => {
      const d = await domains.get(issuedDomain);
      return d?.certificate && d.certificate.version !== before.version ? d : undefined;
    });
    expect(renewed.status).to.equal('issued');
    expect((await certificates.get(issuedDomain))!.version).to.equal(renewed.certificate!.version);
    clockAhead = 0;
  });

  it('a failed renewal keeps the old certificate and says why on the domain', async () => {
    const before = (await domains.get(issuedDomain))!.certificate!;
    // The domain now resolves elsewhere: the DNS check refuses before any order.
    await pebble.setA(issuedDomain, ['192.0.2.44']);
    clockAhead = Date.parse(before.notAfter) - Date.now() - 1000;
    expect(await service.sweep()).to.deep.equal([issuedDomain]);
    const failed = await waitFor('renewalError', async () => {
      const d = await domains.get(issuedDomain);
      return d?.renewalError ? d : undefined;
    });
    expect(failed.status).to.equal('issued');
    expect(failed.certificate).to.deep.equal(before);
    expect(failed.renewalError).to.match(
      new RegExp(
        `^DNS: ${issuedDomain.replaceAll('.', '\\.')} points to 192\\.0\\.2\\.44, not to this platform\\. Point its A/AAAA records to 127\\.0\\.0\\.1\\.`,
      ),
    );
    expect(failed.nextAttemptAt).to.be.a('string');
    expect((await certificates.get(issuedDomain))!.version).to.equal(before.version);
    clockAhead = 0;
    await pebble.setA(issuedDomain, ['127.0.0.1']);
  });

  it('removal drops the certificate; a later sweep or job leaves it gone', async () => {
    expect(await domains.remove(issuedDomain, app)).to.equal(true);
    expect(await certificates.get(issuedDomain)).to.equal(undefined);
    clockAhead = 365 * day;
    expect(await service.sweep()).to.deep.equal([]);
    clockAhead = 0;
    const job = await enqueueCertificate(client, queues, { kind: 'issue', domain: issuedDomain });
    const result = await waitFor('job result', async () => {
      const j = await queues.byName(job.queue).getJob(job.id);
      return j?.returnvalue ?? undefined;
    });
    expect(result).to.deep.equal({ result: 'gone', domain: issuedDomain });
    expect(await client.exists(keys.certificate(issuedDomain))).to.equal(0);
  });

  it('a domain whose challenge the CA cannot reach shows failed with the CA reason', async () => {
    const domain = `broken.${app}.example.com`;
    // Port 80 (here: the proxy's port, which pebble validates against) does not answer.
    await proxy.close();
    await addDomain(domain);
    const doc = await waitFor('failed', async () => {
      const d = await domains.get(domain);
      return d?.status === 'failed' ? d : undefined;
    });
    console.log(`      lastError: ${doc.lastError}`);
    expect(doc.lastError).to.match(/^The certificate authority refused: .*(refused|connect)/i);
    expect(doc.lastError).to.include(`The CA could not connect to http://${domain}/.well-known/acme-challenge/`);
    expect(doc.certificate).to.equal(undefined);
    expect(await certificates.get(domain)).to.equal(undefined);
  });
});
