import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';

/** How long a ticket may wait to be redeemed: long enough for a page to open its WebSocket. */
export const terminalTicketTtlMs = 60_000;

/** What a ticket grants: one shell in `app`, for `user`, in instance `instance` (default the first). */
export const terminalGrantSchema = z.object({
  user: z.string().min(1),
  app: z.string().min(1),
  instance: z.number().int().min(0).optional(),
  /** The address that asked for the ticket, as the API saw it (its `trust proxy` applied), for the audit. */
  remote: z.string().optional(),
  /** The API token it was asked with (none for the bootstrap admin token): revoking it ends the shell. */
  tokenId: z.string().optional(),
  /** Milliseconds since the epoch; Redis expires the key then too, this guards a clock-skewed read. */
  expiresAt: z.number(),
});
export type TerminalGrant = z.infer<typeof terminalGrantSchema>;

/** `gtt_` and 32 random bytes: the prefix says what a leaked value is, the bytes make it unguessable. */
const ticketPattern = /^gtt_[A-Za-z0-9_-]{43}$/;

const hashOf = (ticket: string) => crypto.createHash('sha256').update(ticket).digest('hex');

/**
 * Web-terminal tickets: the API issues one to a signed-in user for one app, the SSH service
 * redeems it once. Only its SHA-256 is stored (a Redis dump holds no usable ticket); redeeming is
 * one GETDEL, so two sockets racing with the same ticket get one shell between them.
 */
export class TerminalTicketStore {
  constructor(private readonly redis: Redis) {}

  async issue(
    grant: { user: string; app: string; instance?: number; remote?: string; tokenId?: string },
    now = Date.now(),
  ): Promise<{ ticket: string; expiresAt: number }> {
    const ticket = `gtt_${crypto.randomBytes(32).toString('base64url')}`;
    const expiresAt = now + terminalTicketTtlMs;
    const record = terminalGrantSchema.parse({ ...grant, expiresAt });
    await this.redis.set(keys.terminalTicket(hashOf(ticket)), JSON.stringify(record), 'PX', terminalTicketTtlMs);
    return { ticket, expiresAt };
  }

  /** The grant, once: undefined for an unknown, used, expired or malformed ticket. */
  async redeem(ticket: string, now = Date.now()): Promise<TerminalGrant | undefined> {
    if (!ticketPattern.test(ticket)) return undefined;
    const raw = await this.redis.getdel(keys.terminalTicket(hashOf(ticket)));
    if (raw === null) return undefined;
    const parsed = terminalGrantSchema.safeParse(JSON.parse(raw));
    if (!parsed.success || parsed.data.expiresAt <= now) return undefined;
    return parsed.data;
  }
}
