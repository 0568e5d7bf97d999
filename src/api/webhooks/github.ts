import { verify } from '@octokit/webhooks-methods';
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { appNameProblem } from '../../core/naming.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { jobRefSchema } from '../openapi/core-routes.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { enqueueRedeploy } from '../redeploy.ts';
import { jobRef } from '../views.ts';
import { Deliveries } from './deliveries.ts';
import { decidePush, pushPayloadSchema } from './push-decision.ts';

/** GitHub caps webhook payloads at 25 MB; the body is read only once the app has a webhook. */
export const webhookBodyLimit = '25mb';

const signatureHeader = /^sha256=[0-9a-f]{64}$/;

apiRoutes.add({
  method: 'post', path: '/webhooks/github/:app', summary: 'GitHub push webhook: redeploy the pushed commit', tags: ['webhooks'],
  auth: 'github-signature', params: { app: 'the app name' },
  headers: { 'X-GitHub-Event': '`push` or `ping`', 'X-GitHub-Delivery': 'the delivery GUID (a repeated one is not deployed twice)' },
  description: 'Verifies X-Hub-Signature-256 over the raw body. A push to the app\'s branch deploys exactly its `after` commit.',
  body: pushPayloadSchema.loose(),
  responses: {
    200: { description: '`ping`, or a delivery already handled (`{duplicate: true, job}`)', schema: z.object({ ok: z.boolean() }).or(z.object({ duplicate: z.literal(true), delivery: z.string(), job: jobRefSchema.nullable() })) },
    202: {
      description: 'redeploy enqueued, or the event was ignored (`{ignored: true, reason}`: another branch, a tag, a deletion, another event)',
      schema: z.object({ app: z.string(), branch: z.string(), commit: z.string(), release: z.string(), job: jobRefSchema })
        .or(z.object({ ignored: z.literal(true), reason: z.string() })),
    },
    401: { description: 'missing, malformed or wrong signature; nothing is enqueued' },
    404: { description: 'signed, but the app does not exist or has no webhook' },
  },
});

/**
 * `POST /webhooks/github/:app`: GitHub push webhooks. Not behind the admin token: a delivery
 * authenticates by its `X-Hub-Signature-256`, an HMAC-SHA256 of the raw body with the app's
 * webhook secret, verified in constant time by @octokit/webhooks-methods.
 *
 * What an unsigned request learns: nothing. A missing or malformed signature is refused (401)
 * before the app is looked up. A well-formed one for an app that does not exist, or has no
 * webhook, gets 404 (the same answer for both): app names are public anyway, as host names
 * under the domain, and the 404 tells whoever set the hook up that it points nowhere.
 */
export function githubWebhookRouter(deps: ApiDeps): Router {
  const deliveries = new Deliveries(deps.redis);
  const router = Router();
  const rawBody = express.raw({ type: () => true, limit: webhookBodyLimit });

  router.post('/github/:app', async (req, res, next) => {
    const signature = req.get('x-hub-signature-256') ?? '';
    if (!signatureHeader.test(signature)) {
      throw new ApiError('UNAUTHORIZED', 'missing or malformed X-Hub-Signature-256 header (sha256=<hex HMAC of the body>)');
    }
    const name = req.params.app;
    const doc = appNameProblem(name) ? undefined : await deps.apps.get(name);
    if (!doc?.webhook) throw new ApiError('NOT_FOUND', `no webhook is set up for app "${name}"`);
    const secret = deps.secrets.open(doc.webhook.sealedSecret);
    await new Promise<void>((resolve, reject) => rawBody(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!(await verify(secret, body.toString('utf8'), signature))) {
      throw new ApiError('UNAUTHORIZED', 'X-Hub-Signature-256 does not match the body and the webhook secret');
    }

    const event = req.get('x-github-event') ?? '';
    if (event === 'ping') {
      res.status(200).json({ ok: true, event });
      return;
    }
    if (event !== 'push') {
      res.status(202).json({ ignored: true, reason: `event "${event || '(none)'}" is not handled; only push deploys` });
      return;
    }
    const parsed = pushPayloadSchema.safeParse(payloadOf(req, body));
    if (!parsed.success) throw validationError(parsed.error, 'payload.');
    const decision = decidePush(doc, parsed.data);
    if (!decision.deploy) {
      res.status(202).json({ ignored: true, reason: decision.reason });
      return;
    }
    const delivery = req.get('x-github-delivery') ?? '';
    if (!/^[A-Za-z0-9-]{1,100}$/.test(delivery)) {
      throw new ApiError('VALIDATION_FAILED', 'missing or malformed X-GitHub-Delivery header', { 'X-GitHub-Delivery': 'required: the delivery GUID' });
    }
    const claim = await deliveries.claim(delivery);
    if (!claim.claimed) {
      res.status(200).json({ duplicate: true, delivery, job: claim.jobId ? jobRef(claim.jobId) : null });
      return;
    }
    let redeploy;
    try {
      redeploy = await enqueueRedeploy(deps, doc.name, { commit: decision.commit });
    } catch (err) {
      await deliveries.release(delivery);
      return next(err);
    }
    if (!redeploy) {
      await deliveries.release(delivery);
      res.status(202).json({ ignored: true, reason: 'the app is being deleted' });
      return;
    }
    await deliveries.record(delivery, redeploy.job.id);
    deps.log.info({ app: doc.name, commit: decision.commit, delivery, job: redeploy.job.id }, 'push webhook: redeploying');
    res.status(202).json({ app: doc.name, branch: decision.branch, commit: decision.commit, release: redeploy.release, job: jobRef(redeploy.job.id) });
  });
  return router;
}

/** GitHub sends JSON, or `payload=<json>` form-encoded when the hook's content type says so. */
function payloadOf(req: Request, body: Buffer): unknown {
  const text = body.toString('utf8');
  try {
    if (req.is('application/x-www-form-urlencoded')) return JSON.parse(new URLSearchParams(text).get('payload') ?? '');
    return JSON.parse(text);
  } catch {
    throw new ApiError('INVALID_JSON', 'the webhook payload is not valid JSON');
  }
}
