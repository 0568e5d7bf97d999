import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import { appDocumentSchema, type AppDocument } from './app-document.ts';

const compareAndSet = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0`;

const createScript = `if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SADD', KEYS[2], ARGV[2]); redis.call('SET', KEYS[3], ARGV[3]); return 1 end return 0`;

/** App documents in Redis: one JSON value per app, plus the set of names. */
export class AppStore {
  constructor(private readonly redis: Redis) {}

  /**
   * Stores a new app whose first release is `releaseSeq`; false when the name is taken. One
   * script, so two requests for one name cannot both win and a loser leaves nothing behind.
   */
  async create(doc: AppDocument, releaseSeq: number): Promise<boolean> {
    const created = await this.redis.eval(
      createScript,
      3,
      keys.app(doc.name),
      keys.apps,
      keys.appReleaseSeq(doc.name),
      JSON.stringify(appDocumentSchema.parse(doc)),
      doc.name,
      releaseSeq,
    );
    return created === 1;
  }

  async get(name: string): Promise<AppDocument | undefined> {
    const raw = await this.redis.get(keys.app(name));
    return raw ? appDocumentSchema.parse(JSON.parse(raw)) : undefined;
  }

  async list(): Promise<AppDocument[]> {
    const names = (await this.redis.smembers(keys.apps)).sort();
    if (names.length === 0) return [];
    const raws = await this.redis.mget(names.map(keys.app));
    return raws.flatMap((raw) => (raw ? [appDocumentSchema.parse(JSON.parse(raw))] : []));
  }

  /**
   * Read-modify-write as a compare-and-set, retried on conflict, so the API and a worker
   * updating the same app never lose each other's fields. (A Lua CAS rather than WATCH: WATCH
   * belongs to a connection, and this one is shared by concurrent requests.) `mutate` returns
   * undefined to leave the app unchanged. Resolves to the stored document, or undefined when
   * the app does not exist.
   */
  async update(name: string, mutate: (doc: AppDocument) => AppDocument | undefined): Promise<AppDocument | undefined> {
    const key = keys.app(name);
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) return undefined;
      const current = appDocumentSchema.parse(JSON.parse(raw));
      const next = mutate(structuredClone(current));
      if (!next) return current;
      next.updatedAt = new Date().toISOString();
      const swapped = await this.redis.eval(compareAndSet, 1, key, raw, JSON.stringify(appDocumentSchema.parse(next)));
      if (swapped === 1) return next;
    }
    throw new Error(`app ${name}: too many concurrent updates`);
  }

  /** Removes every key of the app. */
  async remove(name: string): Promise<void> {
    // Rollouts have one key each (they expire anyway); an app name is a glob without wildcards.
    const rollouts: string[] = [];
    for await (const batch of this.redis.scanStream({ match: keys.appRollout(name, '*'), count: 500 }))
      rollouts.push(...(batch as string[]));
    await this.redis
      .multi()
      .del(...(rollouts.length ? rollouts : [keys.appRollout(name, '-')]))
      .del(
        keys.app(name),
        keys.appReleaseSeq(name),
        keys.appReleases(name),
        keys.appOpSeq(name),
        keys.appLogs(name),
        keys.appLogCursors(name),
        keys.appLogBytes(name),
        keys.appMetrics(name),
      )
      .srem(keys.apps, name)
      .exec();
  }

  async nextReleaseSeq(name: string): Promise<number> {
    return this.redis.incr(keys.appReleaseSeq(name));
  }
}
