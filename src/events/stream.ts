import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import type { Logger } from '../core/log.ts';
import { endedEntities, entityOf, eventSchema, isTombstone, type GasperEvent } from './schemas.ts';

/** How many entries the stream keeps; catch-up never depends on them thanks to the snapshot. */
export const STREAM_MAXLEN = 10_000;

/**
 * What publishing an event writes: its entity's snapshot entry (dropped for a tombstone) and the
 * stream entry. For a Lua script that stores a document and announces it in the same call
 * (src/store/domains.ts); `publishEvent` writes the same.
 */
export function eventRecord(event: GasperEvent): { entity: string; payload: string; tombstone: boolean } {
  return { entity: entityOf(event), payload: JSON.stringify(eventSchema.parse(event)), tombstone: isTombstone(event) };
}

/**
 * Appends an event to the stream and records it as its entity's latest state, atomically, so the
 * snapshot and the stream never disagree about what came before a given stream id.
 */
export async function publishEvent(redis: Redis, event: GasperEvent): Promise<string> {
  const { entity, payload, tombstone } = eventRecord(event);
  const multi = redis.multi();
  if (tombstone) multi.hdel(keys.eventsLatest, entity, ...endedEntities(event));
  else multi.hset(keys.eventsLatest, entity, payload);
  multi.xadd(keys.events, 'MAXLEN', '~', STREAM_MAXLEN, '*', 'event', payload);
  const results = await multi.exec();
  const xadd = results?.[1];
  if (!xadd || xadd[0]) throw xadd?.[0] ?? new Error('event publish failed');
  return xadd[1] as string;
}

export interface SubscriptionHandle {
  /** Resolves once the snapshot has been applied (consumers are then up to date). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Follows the event stream: first the latest event of every live entity (read in the same
 * transaction as the stream's last id), then every event after that id, blocking on XREAD.
 * `redis` must be a connection of its own: a blocking read holds it.
 */
export function subscribeEvents(redis: Redis, onEvent: (event: GasperEvent) => void, log: Logger): SubscriptionHandle {
  let closing = false;
  const parse = (raw: string | undefined): GasperEvent | undefined => {
    let result;
    try {
      result = eventSchema.safeParse(JSON.parse(raw ?? ''));
    } catch {
      result = undefined;
    }
    if (!result?.success) log.warn({ raw }, 'ignoring malformed event');
    return result?.success ? result.data : undefined;
  };
  const deliver = (event: GasperEvent | undefined) => {
    if (!event) return;
    try {
      onEvent(event);
    } catch (err) {
      log.error({ err }, 'event handler failed');
    }
  };

  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const loop = (async () => {
    let lastId = '0-0';
    for (;;) {
      try {
        const results = await redis
          .multi()
          .hvals(keys.eventsLatest)
          .xrevrange(keys.events, '+', '-', 'COUNT', 1)
          .exec();
        const snapshot = (results?.[0]?.[1] as string[]) ?? [];
        const last = (results?.[1]?.[1] as [string, string[]][]) ?? [];
        for (const raw of snapshot) deliver(parse(raw));
        lastId = last[0]?.[0] ?? '0-0';
        break;
      } catch (err) {
        if (closing) return;
        log.warn({ err }, 'cannot read event snapshot; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    markReady();
    while (!closing) {
      try {
        const reply = (await redis.xread('BLOCK', 5000, 'STREAMS', keys.events, lastId)) as
          | [string, [string, string[]][]][]
          | null;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            lastId = id;
            const at = fields.indexOf('event');
            deliver(parse(at === -1 ? undefined : fields[at + 1]));
          }
        }
      } catch (err) {
        if (closing) return;
        log.warn({ err }, 'event stream read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();

  return {
    ready,
    async close() {
      if (closing) return loop;
      closing = true;
      redis.disconnect();
      await loop;
    },
  };
}
