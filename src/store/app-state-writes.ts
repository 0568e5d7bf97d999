import type { Redis } from 'ioredis';
import type { AppTransition } from '../core/app-state.ts';
import { keys } from '../core/keys.ts';
import type { GasperEvent } from '../events/schemas.ts';
import { eventRecord, STREAM_MAXLEN } from '../events/stream.ts';
import { appDocumentSchema, type AppDocument } from './app-document.ts';
import { compareAndSetWithEvent } from './lua.ts';

/** What a transition did. */
export interface TransitionResult {
  /** The document as stored now (undefined: the app does not exist). */
  doc: AppDocument | undefined;
  /** Whether the transition applied (false: it did not apply to the document, which is unchanged). */
  changed: boolean;
  /** The `app.instances` event appended with it, if any. */
  event?: GasperEvent;
}

/** The event announcing what serves the app: none for an app with no release yet. */
export function instancesEventOf(doc: AppDocument): GasperEvent | undefined {
  return doc.release
    ? { type: 'app.instances', app: doc.name, release: doc.release, instances: doc.instances }
    : undefined;
}

/**
 * The one write path of an app's observed state: applies `transition` to the stored document
 * with compare-and-set and, if it announces, appends `app.instances` in the same Redis call
 * (lua.ts `compareAndSetWithEvent`), so the document and what the proxy and DNS were told can
 * never disagree, even if the writer dies between the two.
 * On a conflict (another process wrote the document meanwhile) the transition is applied again
 * to the fresh document, never to the one read before.
 */
export async function applyTransition(
  redis: Redis,
  name: string,
  transition: AppTransition,
): Promise<TransitionResult> {
  const key = keys.app(name);
  for (let attempt = 0; attempt < 50; attempt++) {
    const raw = await redis.get(key);
    if (!raw) return { doc: undefined, changed: false };
    const current = appDocumentSchema.parse(JSON.parse(raw));
    const next = transition.apply(structuredClone(current));
    if (!next) return { doc: current, changed: false };
    next.updatedAt = new Date().toISOString();
    const stored = appDocumentSchema.parse(next);
    const event = transition.announces ? instancesEventOf(stored) : undefined;
    const record = event ? eventRecord(event) : undefined;
    const reply = await redis.eval(
      compareAndSetWithEvent,
      3,
      key,
      keys.eventsLatest,
      keys.events,
      raw,
      JSON.stringify(stored),
      record?.entity ?? '',
      record?.payload ?? '',
      STREAM_MAXLEN,
    );
    if (reply !== 0) return { doc: stored, changed: true, ...(event ? { event } : {}) };
  }
  throw new Error(`app ${name}: too many concurrent updates (${transition.name})`);
}
