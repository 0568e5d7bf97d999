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

export interface DomainCertificatesOptions {
  /** Called after a certificate was loaded or dropped (the route table decides redirects again). */
  onChange?: () => void;
  /** The first retry of a failed load, after this many ms; doubled each time up to `retryMaxMs`. Default 1 s. */
  retryMs?: number;
  /** Default 60 s. */
  retryMaxMs?: number;
}

/**
 * The custom domains' certificates a proxy serves, kept from `domain.state` events: a
 * certificate is read from the store (its key opened) when an event names a version other than
 * the one loaded, so at start (the snapshot) for every domain and afterwards only on renewal.
 * A load that fails (Redis unreachable a moment) is tried again with backoff until it succeeds or
 * another version is wanted: no event would ask again before the next renewal.
 * Handshakes then only look a context up in a map.
 */
export class DomainCertificates {
  private readonly loaded = new Map<string, Loaded>();
  /**
   * Version each domain should serve, as the latest event says; a load that finishes late for an older one is
   * dropped.
   */
  private readonly wanted = new Map<string, string>();
  private readonly pending = new Set<Promise<void>>();
  /** Retries waiting, by domain. */
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly retryMs: number;
  private readonly retryMaxMs: number;
  private closed = false;

  constructor(
    private readonly store: CertificateStore | undefined,
    private readonly log: Logger,
    private readonly options: DomainCertificatesOptions = {},
  ) {
    this.retryMs = options.retryMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
  }

  apply(event: GasperEvent): void {
    if (event.type !== 'domain.state' && event.type !== 'domain.removed') return;
    const domain = hostName(event.domain);
    const version = event.type === 'domain.state' ? event.certificate?.version : undefined;
    this.cancelRetry(domain);
    if (version === undefined) {
      // No certificate (yet, or any more): the platform certificate answers, as for any name.
      this.wanted.delete(domain);
      if (this.loaded.delete(domain)) this.options.onChange?.();
      return;
    }
    this.wanted.set(domain, version);
    if (this.loaded.get(domain)?.version === version) return;
    if (!this.store) {
      this.log.warn({ domain }, 'a custom domain has a certificate, but this proxy was started without the secret key');
      return;
    }
    this.start(domain, version, this.retryMs);
  }

  /** Stops the retries (the proxy is closing). */
  close(): void {
    this.closed = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  private start(domain: string, version: string, nextDelayMs: number): void {
    const load = this.load(domain, version, nextDelayMs).finally(() => this.pending.delete(load));
    this.pending.add(load);
  }

  private cancelRetry(domain: string): void {
    clearTimeout(this.retries.get(domain));
    this.retries.delete(domain);
  }

  /** Tries the load again after `delayMs`, unless another version is wanted by then (its own load runs). */
  private retry(domain: string, version: string, delayMs: number): void {
    if (this.closed) return;
    this.cancelRetry(domain);
    const timer = setTimeout(() => {
      this.retries.delete(domain);
      if (this.wanted.get(domain) !== version || this.loaded.get(domain)?.version === version) return;
      this.start(domain, version, Math.min(delayMs * 2, this.retryMaxMs));
    }, delayMs);
    timer.unref();
    this.retries.set(domain, timer);
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

  private async load(domain: string, version: string, retryDelayMs: number): Promise<void> {
    try {
      const stored = await this.store!.get(domain);
      if (!stored) throw new Error('no certificate stored for it');
      if (this.wanted.get(domain) !== version) return;
      const { context, notAfter } = loadCertificate(stored.certPem, stored.keyPem);
      // The event may name a version the store has since replaced: serve the stored one, it is newer.
      this.loaded.set(domain, { version, context });
      this.options.onChange?.();
      this.log.info({ domain, version: stored.version, notAfter }, 'custom domain certificate loaded');
    } catch (err) {
      // The previous certificate (if any) keeps serving until a retry loads this one.
      this.log.error(
        { domain, version, err: (err as Error).message, retryInMs: retryDelayMs },
        'cannot load the certificate of a custom domain',
      );
      if (this.wanted.get(domain) === version) this.retry(domain, version, retryDelayMs);
    }
  }
}
