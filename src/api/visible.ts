import type { Response } from 'express';
import { canSee } from '../core/access.ts';
import type { AppDocument } from '../store/app-document.ts';
import type { AppStore } from '../store/apps.ts';
import { principalOf } from './auth.ts';
import { ApiError } from './errors.ts';

/**
 * The app named in a request, if its caller may see it. Another user's app is as absent as a
 * missing one (404, not 403), so that its existence does not leak.
 */
export async function visibleApp(apps: AppStore, res: Response, name: string): Promise<AppDocument> {
  const doc = await apps.get(name);
  if (!doc || !canSee(principalOf(res), doc.owner)) throw new ApiError('NOT_FOUND', `app "${name}" not found`);
  return doc;
}
