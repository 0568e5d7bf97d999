import type { Redis } from 'ioredis';
import { z } from 'zod';
import { publishEvent } from '../events/stream.ts';
import type { AppDocument } from '../store/app-document.ts';

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
 * Tells the proxies an app's HTTPS settings (an app.edge event, its own entity: see
 * events/schemas.ts). Published by the API, which owns these settings, after storing them.
 */
export async function publishEdge(redis: Redis, doc: AppDocument): Promise<void> {
  await publishEvent(redis, { type: 'app.edge', app: doc.name, ...edgeOf(doc) });
}
