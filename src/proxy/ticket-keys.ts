import crypto from 'node:crypto';

/**
 * TLS session ticket keys shared by every proxy process of the installation, so that a client
 * resumes its session (no certificate, no key exchange signature) on whichever process or node it
 * reaches next. Node gives each server random keys of its own: with several proxy processes a
 * ticket issued by one is refused by the others. The keys are derived from the cluster's secret
 * key and the current period, so no process has to hand them to another, and they change every
 * period (a stolen key opens only one period's sessions). A ticket from the period before is
 * refused: that client makes a full handshake once.
 */
export const ticketPeriodMs = 12 * 60 * 60 * 1000;

/** The 48 bytes Node's `ticketKeys` wants (name, HMAC and AES keys) for the period holding `now` (pure). */
export function ticketKeysAt(secretKeyHex: string, now: number): Buffer {
  const period = Math.floor(now / ticketPeriodMs);
  return Buffer.from(
    crypto.hkdfSync('sha256', Buffer.from(secretKeyHex, 'hex'), 'gasper tls tickets', `period ${period}`, 48),
  );
}

/** Milliseconds from `now` until the next period starts (pure). */
export function msUntilNextPeriod(now: number): number {
  return ticketPeriodMs - (now % ticketPeriodMs);
}
