import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import type { Logger } from '../core/log.ts';
import { toLine, type LogLine, type RawEntry } from '../store/app-logs.ts';
import { ApiError } from './errors.ts';

export interface LogFollowLimits {
  /** Follows one user may hold open at once (GASPER_LOG_FOLLOWS_PER_USER). */
  perUser: number;
  /** Follows open at once in all (GASPER_LOG_FOLLOWS_MAX). */
  max: number;
}

type Deliver = (lines: LogLine[]) => void;

/** Longest a read waits even when nothing new is followed: bounds the delay of a missed unblock. */
const maxBlockMs = 2000;

/**
 * The log follows of one API process. Every follow of every app is served by one blocking
 * reader (one Redis connection, `XREAD` over all followed streams), opened with the first follow
 * and closed with the last; a follow of an app not read yet interrupts the wait with
 * `CLIENT UNBLOCK` so it is read at once. Before, each follow held its own connection: 500
 * follows were 500 Redis clients. Follows are also counted, per user and in all, and one over
 * either limit is refused with 429 before anything is opened.
 */
export class LogFollowHub {
  private readonly followers = new Map<string, Set<Deliver>>();
  /** Per followed app, the last id the reader has seen, once known. */
  private readonly cursors = new Map<string, string>();
  private readonly starting = new Map<string, Promise<void>>();
  private readonly perUser = new Map<string, number>();
  private total = 0;
  private reader: Redis | undefined;
  private readerId: number | undefined;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly options: { limits: LogFollowLimits; blockMs: number; log: Logger },
  ) {}

  /**
   * Counts a follow of `user`, or throws 429 naming the limit reached. The returned function
   * gives the place back (once, however often it is called).
   */
  admit(user: string): () => void {
    const { perUser, max } = this.options.limits;
    const mine = this.perUser.get(user) ?? 0;
    if (mine >= perUser) {
      throw new ApiError(
        'RATE_LIMITED',
        `too many log and metrics follows: user "${user}" already has ${mine} open, the limit per user (GASPER_LOG_FOLLOWS_PER_USER is ${perUser}); close one first`,
      );
    }
    if (this.total >= max) {
      // No count: how many others follow is not a tenant's business. The operator's log says.
      throw new ApiError(
        'RATE_LIMITED',
        'too many log and metrics follows are open on this API (GASPER_LOG_FOLLOWS_MAX); try again later',
      );
    }
    this.perUser.set(user, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perUser.get(user) ?? 1) - 1;
      if (left > 0) this.perUser.set(user, left);
      else this.perUser.delete(user);
    };
  }

  /**
   * Calls `deliver` with each batch of lines added to the app's stream after the call returns
   * (and maybe a few before: callers skip ids they have). Returns the function that stops it.
   */
  async subscribe(app: string, deliver: Deliver): Promise<() => void> {
    if (this.closed) throw new Error('log follows are closed');
    let set = this.followers.get(app);
    if (!set) {
      set = new Set();
      this.followers.set(app, set);
      const started = this.redis
        .xrevrange(keys.appLogs(app), '+', '-', 'COUNT', 1)
        .then((last) => {
          if (this.followers.get(app) === set) this.cursors.set(app, (last as RawEntry[])[0]?.[0] ?? '0-0');
        })
        .finally(() => this.starting.delete(app));
      this.starting.set(app, started);
    }
    set.add(deliver);
    const thisSet = set;
    const stop = () => {
      thisSet.delete(deliver);
      if (thisSet.size > 0 || this.followers.get(app) !== thisSet) return;
      this.followers.delete(app);
      this.cursors.delete(app);
      if (this.followers.size === 0) this.stopReader();
    };
    try {
      await this.starting.get(app);
    } catch (err) {
      stop();
      throw err;
    }
    this.startReader();
    this.unblock();
    return stop;
  }

  close(): void {
    this.closed = true;
    this.followers.clear();
    this.cursors.clear();
    this.stopReader();
  }

  private startReader(): void {
    if (this.reader || this.closed || this.followers.size === 0) return;
    const reader = this.redis.duplicate({ connectionName: 'gasper-log-follow' });
    reader.on('error', () => {}); // a failed read is logged by the loop, which tries again
    reader.on('close', () => {
      if (this.reader === reader) this.readerId = undefined;
    });
    this.reader = reader;
    this.readerId = undefined;
    void this.run(reader);
  }

  private stopReader(): void {
    const reader = this.reader;
    this.reader = undefined;
    this.readerId = undefined;
    reader?.disconnect();
  }

  /** Ends the reader's current wait, so that it reads a newly followed stream at once. */
  private unblock(): void {
    if (this.readerId !== undefined) this.redis.client('UNBLOCK', this.readerId).catch(() => {});
  }

  private async run(reader: Redis): Promise<void> {
    const blockMs = Math.max(1, Math.min(this.options.blockMs, maxBlockMs));
    while (this.reader === reader) {
      const apps = [...this.cursors.keys()];
      let reply: [string, RawEntry[]][] | null;
      try {
        if (this.readerId === undefined) this.readerId = Number(await reader.client('ID'));
        if (this.reader !== reader) break;
        if (apps.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          continue;
        }
        reply = (await reader.xread(
          'COUNT',
          500,
          'BLOCK',
          blockMs,
          'STREAMS',
          ...apps.map((app) => keys.appLogs(app)),
          ...apps.map((app) => this.cursors.get(app)!),
        )) as [string, RawEntry[]][] | null;
      } catch (err) {
        if (this.reader !== reader) break;
        this.options.log.warn({ err: (err as Error).message }, 'log follow read failed; reading again');
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      for (const [key, entries] of reply ?? []) {
        const app = apps.find((name) => keys.appLogs(name) === key);
        const set = app === undefined ? undefined : this.followers.get(app);
        if (!app || !set || entries.length === 0 || !this.cursors.has(app)) continue;
        this.cursors.set(app, entries.at(-1)![0]);
        const lines = entries.map(toLine);
        for (const deliver of set) deliver(lines);
      }
    }
  }
}
