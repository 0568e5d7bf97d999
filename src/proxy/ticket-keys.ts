import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';

/**
 * TLS session ticket keys shared by every proxy process of the installation, so that a client
 * resumes its session (no certificate, no key exchange signature) on whichever process or node it
 * reaches next. Node gives each server random keys of its own: with several proxy processes a
 * ticket issued by one is refused by the others.
 *
 * Each period's key is random, made by the first proxy that needs it (SET NX) and kept in Redis
 * for two periods: nothing long-lived derives it, so a key taken from a proxy opens one period's
 * sessions only (a ticket carries its session's secret), and the cluster's secret key opens none.
 * A ticket from an earlier period is refused: that client makes a full handshake once.
 */
export const ticketPeriodMs = 12 * 60 * 60 * 1000;

export const periodOf = (now: number) => Math.floor(now / ticketPeriodMs);

/** The 48 bytes Node's `ticketKeys` wants (name, HMAC and AES keys) for the period holding `now`. */
export async function ticketKeysAt(redis: Redis, now: number): Promise<Buffer> {
  const key = keys.tlsTicketKeys(periodOf(now));
  const fresh = crypto.randomBytes(48).toString('base64');
  // Kept past its period, so a proxy whose clock is a little behind still finds it.
  await redis.set(key, fresh, 'PX', 2 * ticketPeriodMs, 'NX');
  const stored = await redis.get(key);
  return Buffer.from(stored ?? fresh, 'base64');
}

/** Milliseconds from `now` until the next period starts (pure). */
export function msUntilNextPeriod(now: number): number {
  return ticketPeriodMs - (now % ticketPeriodMs);
}
