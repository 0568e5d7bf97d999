import crypto from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { visibleApp } from '../visible.ts';
import { apiBaseUrl } from '../public-url.ts';
import { unreachableFromGitHub } from './reachability.ts';

export const webhookCreatedSchema = z.object({
  url: z.string().describe('the payload URL for GitHub'),
  secret: z.string().describe('shown once; Gasper keeps it encrypted'),
  contentType: z.literal('application/json'),
  events: z.array(z.literal('push')),
  createdAt: z.string(),
  warning: z.string().optional().describe('why GitHub could not reach `url` (a local address), and what to set'),
});

/** Where GitHub should send an app's pushes: the configured public API URL, else this request's origin. */
export function webhookUrl(req: Request, publicUrl: string | undefined, app: string): string {
  return `${apiBaseUrl(req, publicUrl)}/webhooks/github/${encodeURIComponent(app)}`;
}

/**
 * `POST /apps/:name/webhook` creates or rotates the app's push webhook secret and shows it once;
 * the previous secret stops verifying at once. `DELETE` removes the webhook. The app's owner (or
 * an admin) may do both. The secret is sealed, not hashed: checking an HMAC needs it.
 */
export function webhookSecretRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/:name/webhook', async (req, res) => {
    await visibleApp(deps.apps, res, req.params.name);
    const secret = crypto.randomBytes(32).toString('base64url');
    const webhook = { sealedSecret: deps.secrets.seal(secret), createdAt: new Date().toISOString() };
    const doc = await deps.apps.update(req.params.name, (d) =>
      d.status === 'deleting' ? undefined : { ...d, webhook },
    );
    if (!doc || doc.webhook?.sealedSecret !== webhook.sealedSecret)
      throw new ApiError('NOT_FOUND', `app "${req.params.name}" not found`);
    const url = webhookUrl(req, deps.options.publicUrl, doc.name);
    const warning = unreachableFromGitHub(url);
    res
      .status(201)
      .set('cache-control', 'no-store')
      .json({
        url,
        secret,
        contentType: 'application/json',
        events: ['push'],
        createdAt: webhook.createdAt,
        ...(warning ? { warning } : {}),
      });
  });

  router.delete('/:name/webhook', async (req, res) => {
    await visibleApp(deps.apps, res, req.params.name);
    const doc = await deps.apps.update(req.params.name, (d) => (d.webhook ? { ...d, webhook: undefined } : undefined));
    if (!doc) throw new ApiError('NOT_FOUND', `app "${req.params.name}" not found`);
    res.status(204).end();
  });

  return router;
}

apiRoutes.add(
  {
    method: 'post',
    path: '/apps/:name/webhook',
    summary: "Create or rotate the app's GitHub push webhook secret",
    tags: ['webhooks'],
    auth: 'admin',
    params: { name: 'the app name' },
    description:
      'Answers the payload URL and a new secret, shown this once. The previous secret stops verifying at once.',
    responses: {
      201: { description: 'the webhook to set up on GitHub', schema: webhookCreatedSchema },
      404: { description: 'no such app' },
    },
  },
  {
    method: 'delete',
    path: '/apps/:name/webhook',
    summary: "Remove the app's push webhook",
    tags: ['webhooks'],
    auth: 'admin',
    params: { name: 'the app name' },
    responses: { 204: { description: 'removed (or there was none)' }, 404: { description: 'no such app' } },
  },
);
