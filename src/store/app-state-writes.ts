import type { Redis } from 'ioredis';
import type { AppTransition } from '../core/app-state.ts';
import { runsWeb } from '../core/formation.ts';
import type { GasperEvent } from '../events/schemas.ts';
import type { AppDocument } from './app-document.ts';
import { AppStore } from './apps.ts';

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
    ? {
        type: 'app.instances',
        app: doc.name,
        release: doc.release,
        instances: doc.instances,
        ...(runsWeb(doc.formation) ? {} : { web: false }),
      }
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
  // The compare-and-set with its event is AppStore.update's (document-store.ts); a conflict re-runs
  // both callbacks on the fresh document, so what they report is the attempt that was stored.
  let changed = false;
  let event: GasperEvent | undefined;
  const doc = await new AppStore(redis).update(
    name,
    (current) => {
      const next = transition.apply(current);
      changed = next !== undefined;
      return next;
    },
    { announce: (next) => (event = transition.announces ? instancesEventOf(next) : undefined) },
  );
  return { doc, changed: changed && doc !== undefined, ...(event ? { event } : {}) };
}
