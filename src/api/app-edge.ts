import { z } from 'zod';
import type { GasperEvent } from '../events/schemas.ts';
import type { AppDocument } from '../store/app-document.ts';
import type { AppStore } from '../store/apps.ts';

/** The request fields `https` and `hsts` of POST /apps and PATCH /apps/:name. */
export const edgeFields = {
  https: z
    .enum(['allow', 'redirect'], { error: 'one of: allow, redirect (plain HTTP answered with 308 to https)' })
    .optional(),
  hsts: z.boolean({ error: 'true or false (Strict-Transport-Security on HTTPS answers)' }).optional(),
};

/** The app's HTTPS settings as the proxy needs them. */
export function edgeOf(doc: Pick<AppDocument, 'https' | 'hsts'>): { https: 'allow' | 'redirect'; hsts: boolean } {
  return { https: doc.https ?? 'allow', hsts: doc.hsts ?? false };
}

/**
 * The app.edge event telling the proxies an app's HTTPS settings (its own entity: see
 * events/schemas.ts), for `AppStore.update`'s `announce`, which stores it with the document in
 * one Redis call: the proxies are never told settings the document does not hold. None when the
 * settings did not change (unless `always`), nor for an app being deleted, whose app.removed
 * ends the entity: an edge event written after it would bring `edge:<app>` back.
 */
export function edgeAnnouncement(always = false) {
  return (next: AppDocument, current: AppDocument): GasperEvent | undefined => {
    if (next.status === 'deleting') return undefined;
    const edge = edgeOf(next);
    const before = edgeOf(current);
    if (!always && edge.https === before.https && edge.hsts === before.hsts) return undefined;
    return { type: 'app.edge', app: next.name, ...edge };
  };
}

/** Stores the app's HTTPS settings and announces them in one step; undefined when the app is gone. */
export async function storeEdge(
  apps: AppStore,
  name: string,
  edge: Pick<AppDocument, 'https' | 'hsts'>,
  always = false,
): Promise<AppDocument | undefined> {
  return apps.update(name, (d) => ({ ...d, https: edge.https, hsts: edge.hsts }), {
    announce: edgeAnnouncement(always),
  });
}
