import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import type { Logger } from '../core/log.ts';
import {
  decideRevocations,
  type AccessState,
  type RevocationReason,
  type SessionHolder,
  type WatchedSession,
} from '../core/session-revocation.ts';
import { AppStore } from './apps.ts';
import { UserStore } from './users.ts';

const appField = (app: string) => `app:${app}`;
const userField = (user: string) => `user:${user}`;

/** Bumps the counters that open sessions watch: call after the change that narrows access is stored. */
export async function bumpAccessGeneration(redis: Redis, of: { app?: string; user?: string }): Promise<void> {
  const multi = redis.multi();
  if (of.app !== undefined) multi.hincrby(keys.accessGenerations, appField(of.app), 1);
  if (of.user !== undefined) multi.hincrby(keys.accessGenerations, userField(of.user), 1);
  await multi.exec();
}

interface Entry {
  session: WatchedSession;
  end: (reason: RevocationReason) => void;
}

/**
 * The open sessions of one process (log and metrics follows in an API, SSH and web-terminal
 * sessions in the SSH service) and what ends them when their holder loses the app. Every
 * `intervalMs` while any is open, one `HMGET` reads the access counters of their apps and users
 * (bumped by transfers, deletions, token revocations: `bumpAccessGeneration`); only when one moved,
 * or for a session just opened, are the app, the users and tokens read and `decideRevocations`
 * applied. So a revoked holder is cut within about `intervalMs`, and a quiet process costs one
 * small read per interval, whatever the number of sessions.
 */
export class AccessWatch {
  readonly #entries = new Map<string, Entry>();
  /** Per counter field, the value last read (null: never bumped, or gone). */
  readonly #seen = new Map<string, string | null>();
  /** Apps whose sessions are decided at the next tick whatever the counters say (just opened). */
  readonly #fresh = new Set<string>();
  readonly #apps: AppStore;
  readonly #users: UserStore;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #failing = false;
  #closed = false;
  #next = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: { log: Logger; intervalMs?: number },
  ) {
    this.#apps = new AppStore(redis);
    this.#users = new UserStore(redis);
  }

  /**
   * Watches one open session of `app`; `end` is called once, with why, when its holder lost the
   * app. The session is decided at the next tick too, so a transfer between the caller's own
   * access check and this call is not missed. Returns the function that stops watching.
   */
  watch(app: string, holder: SessionHolder, end: (reason: RevocationReason) => void): () => void {
    const id = String(++this.#next);
    this.#entries.set(id, { session: { id, app, holder }, end });
    this.#fresh.add(app);
    this.#schedule();
    return () => {
      this.#entries.delete(id);
    };
  }

  /** Sessions watched now: what a test checks to see them let go. */
  get size(): number {
    return this.#entries.size;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#entries.clear();
  }

  #schedule(): void {
    if (this.#timer || this.#ticking || this.#closed || this.#entries.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#ticking = true;
      this.#tick()
        .then(
          () => {
            if (this.#failing) this.options.log.info('access watch reads again');
            this.#failing = false;
          },
          (err: Error) => {
            // Once per outage, not twice a second: the sessions stay as they were until it reads again.
            if (!this.#failing) this.options.log.warn({ err: err.message }, 'access watch failed; reading again');
            this.#failing = true;
          },
        )
        .finally(() => {
          this.#ticking = false;
          this.#schedule();
        });
    }, this.options.intervalMs ?? 500);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const sessions = [...this.#entries.values()].map((e) => e.session);
    const fields = [
      ...new Set(
        sessions.flatMap((s) => [appField(s.app), ...(s.holder.kind === 'user' ? [userField(s.holder.user)] : [])]),
      ),
    ];
    const values = await this.redis.hmget(keys.accessGenerations, ...fields);
    const moved = new Set<string>();
    fields.forEach((field, i) => {
      const value = values[i] ?? null;
      if (this.#seen.has(field) && this.#seen.get(field) !== value) moved.add(field);
      this.#seen.set(field, value);
    });
    for (const field of this.#seen.keys()) if (!fields.includes(field)) this.#seen.delete(field);
    const apps = new Set(this.#fresh);
    this.#fresh.clear();
    for (const s of sessions)
      if (moved.has(appField(s.app)) || (s.holder.kind === 'user' && moved.has(userField(s.holder.user))))
        apps.add(s.app);
    if (apps.size === 0) return;
    const due = sessions.filter((s) => apps.has(s.app));
    const state = await this.#read(due);
    for (const { id, reason } of decideRevocations(due, state)) {
      const entry = this.#entries.get(id);
      if (!entry) continue;
      this.#entries.delete(id);
      try {
        entry.end(reason);
      } catch (err) {
        this.options.log.warn({ err: (err as Error).message, app: entry.session.app }, 'could not end a session');
      }
    }
  }

  /** The apps, users and tokens the sessions name, read now. */
  async #read(sessions: readonly WatchedSession[]): Promise<AccessState> {
    const appNames = [...new Set(sessions.map((s) => s.app))];
    const holders = sessions.flatMap((s) => (s.holder.kind === 'user' ? [s.holder] : []));
    const userNames = [...new Set(holders.map((h) => h.user))];
    const tokens = [...new Set(holders.flatMap((h) => (h.tokenId === undefined ? [] : [`${h.user}\n${h.tokenId}`])))];
    const [apps, users, live] = await Promise.all([
      Promise.all(appNames.map((name) => this.#apps.get(name))),
      Promise.all(userNames.map((name) => this.#users.get(name))),
      Promise.all(
        tokens.map((pair) => {
          const [user, id] = pair.split('\n') as [string, string];
          return this.redis.hexists(keys.userTokens(user), id);
        }),
      ),
    ]);
    const appBy = new Map(appNames.map((name, i) => [name, apps[i]]));
    const userBy = new Map(userNames.map((name, i) => [name, users[i]]));
    const liveTokens = new Set(tokens.filter((_, i) => live[i] === 1));
    return {
      app: (name) => appBy.get(name),
      user: (name) => userBy.get(name),
      tokenLive: (user, id) => liveTokens.has(`${user}\n${id}`),
    };
  }
}
