/**
 * Slows down guessing: failed authentications are counted per remote address. The first few
 * cost nothing, then each answer is delayed (doubling up to a ceiling), and past a threshold the
 * address is locked out for a while. Failures are forgotten after a quiet window. Pure: time is
 * passed in, so it is unit-tested without waiting.
 */
export interface AuthLimiterOptions {
  /** Failures answered without delay. Default 3. */
  freeFailures?: number;
  /** Delay after the first counted failure; doubles with each further one. Default 500 ms. */
  baseDelayMs?: number;
  /** Ceiling of the delay. Default 8 s. */
  maxDelayMs?: number;
  /** Failures after which the address is locked out. Default 20. */
  lockoutAfter?: number;
  /** How long a lockout lasts. Default 15 min. */
  lockoutMs?: number;
  /** Failures older than this are forgotten. Default 15 min. */
  windowMs?: number;
  /** Addresses tracked at most; the stalest are dropped first. Default 10,000. */
  maxAddresses?: number;
}

export type AuthVerdict = { allowed: true; delayMs: number } | { allowed: false; retryAfterMs: number };

interface Entry {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
}

const defaults: Required<AuthLimiterOptions> = {
  freeFailures: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  lockoutAfter: 20,
  lockoutMs: 15 * 60_000,
  windowMs: 15 * 60_000,
  maxAddresses: 10_000,
};

export class AuthLimiter {
  readonly options: Required<AuthLimiterOptions>;
  private readonly entries = new Map<string, Entry>();

  constructor(options: AuthLimiterOptions = {}) {
    this.options = { ...defaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    for (const [name, value] of Object.entries(this.options)) {
      if (!Number.isFinite(value) || value < 0)
        throw new RangeError(`AuthLimiter: ${name} must be a non-negative number`);
    }
  }

  /** Whether `address` may try now, and how long its answer should be held back. */
  check(address: string, now: number): AuthVerdict {
    const entry = this.current(address, now);
    if (!entry) return { allowed: true, delayMs: 0 };
    if (entry.lockedUntil > now) return { allowed: false, retryAfterMs: entry.lockedUntil - now };
    return { allowed: true, delayMs: this.delayFor(entry.failures) };
  }

  /** Records a failed attempt; returns the verdict for the next one. */
  failure(address: string, now: number): AuthVerdict {
    const entry = this.current(address, now) ?? { failures: 0, lastFailureAt: now, lockedUntil: 0 };
    entry.failures += 1;
    entry.lastFailureAt = now;
    if (entry.failures >= this.options.lockoutAfter) entry.lockedUntil = now + this.options.lockoutMs;
    this.entries.delete(address); // re-inserted last: the map's order is staleness order
    this.entries.set(address, entry);
    while (this.entries.size > this.options.maxAddresses) this.entries.delete(this.entries.keys().next().value!);
    return this.check(address, now);
  }

  /** Addresses currently tracked (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  private delayFor(failures: number): number {
    const counted = failures - this.options.freeFailures;
    if (counted <= 0) return 0;
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(counted - 1, 30));
  }

  private current(address: string, now: number): Entry | undefined {
    const entry = this.entries.get(address);
    if (!entry) return undefined;
    const expired = entry.lockedUntil <= now && now - entry.lastFailureAt > this.options.windowMs;
    if (expired) {
      this.entries.delete(address);
      return undefined;
    }
    return entry;
  }
}
