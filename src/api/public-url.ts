import type { Request } from 'express';

/**
 * The API's address as others reach it: GASPER_API_URL when set, else the origin this request
 * came to (behind a trusted proxy, its X-Forwarded-Proto). For URLs the API hands out: a
 * webhook's payload URL, the login of a new user.
 */
export function apiBaseUrl(req: Request, publicUrl: string | undefined): string {
  return (publicUrl ?? `${req.protocol}://${req.get('host')}`).replace(/\/+$/, '');
}
