import type tls from 'node:tls';
import type { Logger } from '../core/log.ts';
import type { GasperEvent } from '../events/schemas.ts';
import type { CertificateStore } from '../store/certificates.ts';
import { hostName } from './route-table.ts';
import { loadCertificate } from './tls.ts';

interface Loaded {
  version: string;
  context: tls.SecureContext;
}

/**
 * The custom domains' certificates a proxy serves, kept from `domain.state` events: a
 * certificate is read from the store (its key opened) when an event names a version other than
 * the one loaded, so at start (the snapshot) for every domain and afterwards only on renewal.
 * Handshakes then only look a context up in a map.
 */
export class DomainCertificates {
  private readonly loaded = new Map<string, Loaded>();
  /** Version each domain should serve, as the latest event says; a load that finishes late for an older one is dropped. */
  private readonly wanted = new Map<string, string>();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly store: CertificateStore | undefined,
    private readonly log: Logger,
  ) {}

  apply(event: GasperEvent): void {
    if (event.type === 'domain.removed') {
      const domain = hostName(event.domain);
      this.wanted.delete(domain);
      this.loaded.delete(domain);
      return;
    }
    if (event.type !== 'domain.state') return;
    const domain = hostName(event.domain);
    const version = event.certificate?.version;
    if (version === undefined) {
      // No certificate (yet, or any more): the platform certificate answers, as for any name.
      this.wanted.delete(domain);
      this.loaded.delete(domain);
      return;
    }
    this.wanted.set(domain, version);
    if (this.loaded.get(domain)?.version === version) return;
    if (!this.store) {
      this.log.warn({ domain }, 'a custom domain has a certificate, but this proxy was started without the secret key');
      return;
    }
    const load = this.load(domain, version).finally(() => this.pending.delete(load));
    this.pending.add(load);
  }

  /** The secure context for a custom domain, if its certificate is loaded. */
  get(servername: string): tls.SecureContext | undefined {
    return this.loaded.get(servername)?.context;
  }

  has(servername: string): boolean {
    return this.loaded.has(servername);
  }

  /** Resolves once the loads started so far are done (start: serve every certificate from the first handshake). */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  private async load(domain: string, version: string): Promise<void> {
    try {
      const stored = await this.store!.get(domain);
      if (!stored) throw new Error('no certificate stored for it');
      if (this.wanted.get(domain) !== version) return;
      const { context, notAfter } = loadCertificate(stored.certPem, stored.keyPem);
      // The event may name a version the store has since replaced: serve the stored one, it is newer.
      this.loaded.set(domain, { version, context });
      this.log.info({ domain, version: stored.version, notAfter }, 'custom domain certificate loaded');
    } catch (err) {
      // The previous certificate (if any) keeps serving.
      this.log.error(
        { domain, version, err: (err as Error).message },
        'cannot load the certificate of a custom domain',
      );
    }
  }
}
