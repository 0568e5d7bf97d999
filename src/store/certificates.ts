import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';
import type { SecretBox } from '../core/secret-box.ts';

const storedCertificateSchema = z.object({
  domain: z.string(),
  /** The leaf certificate then its chain, PEM. */
  certPem: z.string(),
  /** The private key (PEM), sealed with the cluster's secret key. */
  keySealed: z.string(),
  issuer: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  /** Changes with every stored certificate: the `domain.state` event carries it. */
  version: z.string(),
});
export type StoredCertificate = z.infer<typeof storedCertificateSchema>;

/** A certificate as a TLS server uses it: the key opened. */
export interface ServedCertificate {
  domain: string;
  certPem: string;
  keyPem: string;
  issuer: string;
  notAfter: string;
  version: string;
}

/**
 * Certificates of custom domains, in Redis so that every proxy instance serves them; private keys
 * are sealed like other secrets at rest.
 */
export class CertificateStore {
  constructor(
    private readonly redis: Redis,
    private readonly box: SecretBox,
  ) {}

  async put(cert: Omit<StoredCertificate, 'keySealed'> & { keyPem: string }): Promise<void> {
    const { key, value } = this.sealed(cert);
    await this.redis.set(key, value);
  }

  /**
   * The key and stored form of a certificate (key sealed), for a caller that writes it with more
   * (DomainStore.update).
   */
  sealed(cert: Omit<StoredCertificate, 'keySealed'> & { keyPem: string }): { key: string; value: string } {
    const { keyPem, ...rest } = cert;
    const stored = storedCertificateSchema.parse({ ...rest, keySealed: this.box.seal(keyPem) });
    return { key: keys.certificate(cert.domain), value: JSON.stringify(stored) };
  }

  async get(domain: string): Promise<ServedCertificate | undefined> {
    const raw = await this.redis.get(keys.certificate(domain));
    if (!raw) return undefined;
    const { keySealed, ...rest } = storedCertificateSchema.parse(JSON.parse(raw));
    return {
      domain: rest.domain,
      certPem: rest.certPem,
      keyPem: this.box.open(keySealed),
      issuer: rest.issuer,
      notAfter: rest.notAfter,
      version: rest.version,
    };
  }

  async remove(domain: string): Promise<void> {
    await this.redis.del(keys.certificate(domain));
  }
}
