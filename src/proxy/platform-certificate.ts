import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/log.ts';
import { loadCertificate, type LoadedCertificate } from './tls.ts';

export interface PlatformCertificateOptions {
  /** PEM certificate chain (GASPER_TLS_CERT) for `*.<domain>` and `<domain>`. */
  certFile: string;
  /** Its PEM private key (GASPER_TLS_KEY). */
  keyFile: string;
  /** The platform domain, to warn when the certificate does not cover `*.<domain>`. */
  domain: string;
  /** How often the files are compared besides watching them (a watch can miss, e.g. on NFS). Default 30 s. */
  checkIntervalMs?: number;
  /** Called with the new pair after a reload (the listener's default context, for clients without SNI). */
  onChange?: (pem: { cert: string; key: string }) => void;
}

export interface PlatformCertificateHandle {
  current(): LoadedCertificate;
  /** The PEM pair of `current()`. */
  pem(): { cert: string; key: string };
  /** Resolves after the files were read again (and the certificate swapped if they changed and are valid). */
  check(): Promise<void>;
  close(): void;
}

function readPair(certFile: string, keyFile: string): { cert: string; key: string; digest: string } {
  const read = (file: string, variable: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(
        `${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  };
  const cert = read(certFile, 'GASPER_TLS_CERT');
  const key = read(keyFile, 'GASPER_TLS_KEY');
  return { cert, key, digest: crypto.createHash('sha256').update(cert).update('\0').update(key).digest('hex') };
}

/**
 * The platform certificate from files, as the seed system served it: loaded at start (an
 * unreadable or mismatched pair stops the start with the reason), then reloaded when the files
 * change, without a restart. The directories are watched (a certificate renewed by certbot or
 * `mv` replaces the file: a watch on the file itself would follow the old inode) and the files
 * compared periodically. A pair that fails to load (half-written, cert renewed before its key)
 * keeps the current certificate serving and is tried again on the next change or check.
 */
export function watchPlatformCertificate(options: PlatformCertificateOptions, log: Logger): PlatformCertificateHandle {
  const { certFile, keyFile } = options;
  const first = readPair(certFile, keyFile);
  let current: LoadedCertificate;
  try {
    current = loadCertificate(first.cert, first.key);
  } catch (err) {
    throw new Error(`GASPER_TLS_CERT / GASPER_TLS_KEY (${certFile}, ${keyFile}): ${(err as Error).message}`);
  }
  let digest = first.digest;
  let pem = { cert: first.cert, key: first.key };
  warnIfNotCovering(current, options.domain, log);
  log.info({ certFile, fingerprint: current.fingerprint, notAfter: current.notAfter }, 'platform certificate loaded');

  const check = async () => {
    try {
      const pair = readPair(certFile, keyFile);
      if (pair.digest === digest) return;
      const loaded = loadCertificate(pair.cert, pair.key);
      current = loaded;
      digest = pair.digest;
      pem = { cert: pair.cert, key: pair.key };
      options.onChange?.(pem);
      warnIfNotCovering(loaded, options.domain, log);
      log.info(
        { certFile, fingerprint: loaded.fingerprint, notAfter: loaded.notAfter },
        'platform certificate reloaded',
      );
    } catch (err) {
      log.warn(
        { err: (err as Error).message },
        'platform certificate files changed but cannot be loaded: still serving the previous one',
      );
    }
  };

  // Writes come in bursts (cert, then key; or several writes per file): wait for quiet.
  let debounce: NodeJS.Timeout | undefined;
  const soon = () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => void check(), 100);
  };
  const names = new Set([path.basename(certFile), path.basename(keyFile)]);
  const watchers: fs.FSWatcher[] = [];
  for (const dir of new Set([path.dirname(certFile), path.dirname(keyFile)])) {
    try {
      const watcher = fs.watch(dir, (_event, name) => {
        // A null name (some platforms) may be any file: check.
        if (!name || names.has(name.toString()) || name.toString().startsWith('..')) soon();
      });
      watcher.on('error', (err) =>
        log.warn({ err: err.message, dir }, 'cannot watch the platform certificate directory'),
      );
      watchers.push(watcher);
    } catch (err) {
      log.warn(
        { err: (err as Error).message, dir },
        'cannot watch the platform certificate directory: periodic checks only',
      );
    }
  }
  const interval = setInterval(() => void check(), options.checkIntervalMs ?? 30_000);
  interval.unref();

  return {
    current: () => current,
    pem: () => pem,
    check,
    close() {
      clearInterval(interval);
      clearTimeout(debounce);
      for (const w of watchers) w.close();
    },
  };
}

/** A certificate that does not cover `*.<domain>` serves apps with browser warnings: say so in the log. */
function warnIfNotCovering(cert: LoadedCertificate, domain: string, log: Logger): void {
  if (!cert.names.includes(`*.${domain}`)) {
    log.warn(
      { subjectAltName: cert.subjectAltName, domain },
      `the platform certificate does not cover *.${domain}: apps will get certificate warnings`,
    );
  }
}
