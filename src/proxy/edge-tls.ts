import type { Redis } from 'ioredis';
import type { Logger } from '../core/log.ts';
import { createSecretBox } from '../core/secret-box.ts';
import { CertificateStore } from '../store/certificates.ts';
import { DomainCertificates } from './certificates.ts';
import { watchPlatformCertificate, type PlatformCertificateHandle } from './platform-certificate.ts';
import { certificateCovers } from './tls.ts';

export interface EdgeTlsOptions {
  domain: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsCheckIntervalMs?: number;
  secretKey?: string;
}

export interface EdgeTls {
  platform: PlatformCertificateHandle | undefined;
  custom: DomainCertificates;
  /** Registers the one listener told of a platform certificate reload. */
  onPlatformChange(listener: (pem: { cert: string; key: string }) => void): void;
  /**
   * Whether a certificate served covers `name`: its custom domain's own, loaded, or the platform
   * certificate's names.
   */
  covers(name: string): boolean;
  close(): void;
}

/**
 * The certificates the HTTPS listener serves: the platform pair from files (checked now: a bad
 * pair stops the start, naming the variables), and custom domains' from the certificate store.
 */
export function startTls(
  options: EdgeTlsOptions,
  redis: Redis,
  log: Logger,
  /** Told when what `covers` answers may have changed (a certificate loaded, dropped or reloaded). */
  onCoverageChange: () => void = () => {},
): EdgeTls {
  if (Boolean(options.tlsCertFile) !== Boolean(options.tlsKeyFile)) {
    throw new Error('GASPER_TLS_CERT and GASPER_TLS_KEY go together: set both, or neither');
  }
  let listener: ((pem: { cert: string; key: string }) => void) | undefined;
  const platform = options.tlsCertFile
    ? watchPlatformCertificate(
        {
          certFile: options.tlsCertFile,
          keyFile: options.tlsKeyFile!,
          domain: options.domain,
          checkIntervalMs: options.tlsCheckIntervalMs,
          onChange: (pem) => {
            listener?.(pem);
            onCoverageChange();
          },
        },
        log,
      )
    : undefined;
  if (!platform) log.info('no platform certificate (GASPER_TLS_CERT/GASPER_TLS_KEY): HTTPS serves custom domains only');
  const store = options.secretKey ? new CertificateStore(redis, createSecretBox(options.secretKey)) : undefined;
  const custom = new DomainCertificates(store, log, { onChange: onCoverageChange });
  return {
    platform,
    custom,
    onPlatformChange(l) {
      listener = l;
    },
    covers(name) {
      return custom.has(name) || (platform !== undefined && certificateCovers(platform.current().names, name));
    },
    close() {
      platform?.close();
      custom.close();
    },
  };
}
