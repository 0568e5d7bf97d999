import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/core/log.ts';
import { connectRedis, type EmbeddedRedisHandle } from '../../src/core/redis.ts';
import { createSecretBox } from '../../src/core/secret-box.ts';
import { DomainCertificates } from '../../src/proxy/certificates.ts';
import { CertificateStore } from '../../src/store/certificates.ts';
import { issueTestCertificate, makeTestCa, type TestCa } from '../support/certificates.ts';
import { startTestRedis } from '../support/redis.ts';

async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("proxy: custom domains' certificates, a failed load tried again (real Redis, openssl)", function () {
  this.timeout(20_000);
  let dir: string;
  let ca: TestCa;
  let redis: EmbeddedRedisHandle;
  let client: Redis;
  let store: CertificateStore;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-domain-certs-'));
    ca = await makeTestCa(dir);
    redis = await startTestRedis();
    client = connectRedis(redis.url);
    store = new CertificateStore(client, createSecretBox(crypto.randomBytes(32).toString('hex')));
  });

  after(async () => {
    client?.disconnect();
    await redis?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const put = async (domain: string, version: string) => {
    const cert = await issueTestCertificate(ca, [domain], undefined, { cn: version });
    await store.put({
      domain,
      certPem: cert.certPem,
      keyPem: cert.keyPem,
      issuer: 'Gasper Test CA',
      notBefore: new Date().toISOString(),
      notAfter: new Date(Date.now() + 86_400_000).toISOString(),
      version,
    });
  };

  it('a load that fails (the store not answering it yet) is retried with backoff until it loads, and says so', async () => {
    const domain = `retry-${crypto.randomBytes(3).toString('hex')}.example.com`;
    let changes = 0;
    const certs = new DomainCertificates(store, createLogger('silent'), {
      onChange: () => changes++,
      retryMs: 50,
      retryMaxMs: 200,
    });
    try {
      // The event comes before the store has it: the first load fails (as with a Redis blip).
      certs.apply({ type: 'domain.state', domain, app: 'web', certificate: { version: 'v1', notAfter: 'x' } });
      await certs.settled();
      expect(certs.has(domain)).to.equal(false);
      await new Promise((r) => setTimeout(r, 300));
      await put(domain, 'v1');
      await waitUntil(() => certs.has(domain), 'the retried load');
      expect(changes).to.equal(1);
      // Dropped: its retries stop, and the route table is told.
      certs.apply({ type: 'domain.removed', domain });
      expect(certs.has(domain)).to.equal(false);
      expect(changes).to.equal(2);
    } finally {
      certs.close();
    }
  });

  it('a retry for a version no longer wanted stops; the new version loads', async () => {
    const domain = `newer-${crypto.randomBytes(3).toString('hex')}.example.com`;
    const certs = new DomainCertificates(store, createLogger('silent'), { retryMs: 50, retryMaxMs: 100 });
    try {
      certs.apply({ type: 'domain.state', domain, app: 'web', certificate: { version: 'v1', notAfter: 'x' } });
      await certs.settled();
      expect(certs.has(domain)).to.equal(false);
      await put(domain, 'v2');
      certs.apply({ type: 'domain.state', domain, app: 'web', certificate: { version: 'v2', notAfter: 'x' } });
      await waitUntil(() => certs.has(domain), 'v2 loaded');
    } finally {
      certs.close();
    }
  });
});
