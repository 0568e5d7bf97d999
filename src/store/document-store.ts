import type { ChainableCommander, Redis } from 'ioredis';
import type { z } from 'zod';
import { keys } from '../core/keys.ts';
import type { GasperEvent } from '../events/schemas.ts';
import { eventRecord, STREAM_MAXLEN } from '../events/stream.ts';
import { compareAndSetWithEvent, createDocument } from './lua.ts';

/** Where and how one kind of document lives in Redis. */
export interface DocumentStoreOptions<T> {
  /** What a document is called in errors: `app` → "app web: too many concurrent updates". */
  kind: string;
  /** Parses what is read and what is written: a document that does not match is never stored. */
  schema: z.ZodType<T>;
  /** The key of one document, by name. */
  key: (name: string) => string;
  /** The set of every document's name. */
  index: string;
  /** A document's name (the argument of `key`). */
  nameOf: (doc: T) => string;
  /** Whether `update` sets the document's `updatedAt` to now on each change. Default false. */
  stampUpdatedAt?: boolean;
  /** Compare-and-set attempts before `update` gives up. Default 50. */
  maxAttempts?: number;
}

/** Options of `DocumentStore.update`. */
export interface UpdateOptions<T> {
  /**
   * The event announcing the change, if any, written in the same Redis call as the document
   * (lua.ts `compareAndSetWithEvent`): the snapshot and the stream then never disagree with the
   * document, even with concurrent writers or a crash between the two. Called with the document
   * to store and the one it replaces, on each attempt; undefined publishes nothing. Never a
   * tombstone (a tombstone deletes snapshot entries, which this write does not do).
   */
  announce?: (next: T, current: T) => GasperEvent | undefined;
}

/** What `remove` deletes besides the document and its name: further keys, further commands. */
export interface RemoveAlso {
  keys?: readonly string[];
  /** More commands in the same MULTI (a name dropped from another set). */
  commands?: (multi: ChainableCommander) => void;
}

/**
 * One kind of JSON document in Redis: one string value per document, plus the set of names, as
 * apps, databases, users and nodes are kept. The stores of those kinds hold one of these for
 * the common part and add what is theirs (an app's release sequence, a database's ports).
 */
export class DocumentStore<T> {
  private readonly maxAttempts: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: DocumentStoreOptions<T>,
  ) {
    this.maxAttempts = options.maxAttempts ?? 50;
  }

  private parse(raw: string): T {
    return this.options.schema.parse(JSON.parse(raw));
  }

  private serialize(doc: T): string {
    return JSON.stringify(this.options.schema.parse(doc));
  }

  async get(name: string): Promise<T | undefined> {
    const raw = await this.redis.get(this.options.key(name));
    return raw ? this.parse(raw) : undefined;
  }

  /** Every document, by name; a name listed without its document (being removed) is left out. */
  async list(): Promise<T[]> {
    const names = (await this.redis.smembers(this.options.index)).sort();
    if (names.length === 0) return [];
    const raws = await this.redis.mget(names.map(this.options.key));
    return raws.flatMap((raw) => (raw ? [this.parse(raw)] : []));
  }

  /**
   * Stores a new document, false when the name is taken: one script, so two requests for one name
   * cannot both win and a loser leaves nothing behind. `alongside` keys are set with it.
   */
  async create(doc: T, alongside: Readonly<Record<string, string | number>> = {}): Promise<boolean> {
    const extra = Object.entries(alongside);
    const name = this.options.nameOf(doc);
    const created = await this.redis.eval(
      createDocument,
      2 + extra.length,
      this.options.key(name),
      this.options.index,
      ...extra.map(([key]) => key),
      this.serialize(doc),
      name,
      ...extra.map(([, value]) => value),
    );
    return created === 1;
  }

  /** Stores the document, created or replaced, and lists its name, in one MULTI. */
  async put(doc: T): Promise<void> {
    const name = this.options.nameOf(doc);
    await this.redis.multi().set(this.options.key(name), this.serialize(doc)).sadd(this.options.index, name).exec();
  }

  /**
   * Read-modify-write as a compare-and-set, retried on conflict, so two processes updating the
   * same document never lose each other's fields. `mutate` gets a copy it may change and returns
   * undefined to leave the document unchanged. `options.announce` stores an event with the
   * document, atomically. Resolves to the stored document, or undefined when there is none.
   */
  async update(
    name: string,
    mutate: (doc: T) => T | undefined,
    options: UpdateOptions<T> = {},
  ): Promise<T | undefined> {
    const key = this.options.key(name);
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const raw = await this.redis.get(key);
      if (!raw) return undefined;
      const current = this.parse(raw);
      const next = mutate(structuredClone(current));
      if (!next) return current;
      if (this.options.stampUpdatedAt) (next as { updatedAt?: string }).updatedAt = new Date().toISOString();
      const serialized = this.serialize(next);
      const event = options.announce?.(next, current);
      const record = event ? eventRecord(event) : undefined;
      if (record?.tombstone) throw new Error(`${this.options.kind} ${name}: a tombstone cannot be announced by update`);
      const swapped = await this.redis.eval(
        compareAndSetWithEvent,
        3,
        key,
        keys.eventsLatest,
        keys.events,
        raw,
        serialized,
        record?.entity ?? '',
        record?.payload ?? '',
        STREAM_MAXLEN,
      );
      if (swapped !== 0) return next;
    }
    throw new Error(`${this.options.kind} ${name}: too many concurrent updates`);
  }

  /** Deletes the document and drops its name, with `also`, in one MULTI. */
  async remove(name: string, also: RemoveAlso = {}): Promise<void> {
    const multi = this.redis
      .multi()
      .del(this.options.key(name), ...(also.keys ?? []))
      .srem(this.options.index, name);
    also.commands?.(multi);
    await multi.exec();
  }
}
