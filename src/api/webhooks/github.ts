import crypto from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { appNameProblem } from '../../core/naming.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { jobRefSchema } from '../openapi/core-routes.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { enqueueRedeploy } from '../redeploy.ts';
import { pushReason, webhookActor } from '../release-reasons.ts';
import { jobRef } from '../views.ts';
import type { AppStore } from '../../store/apps.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { Deliveries } from './deliveries.ts';
import {
  decidePush,
  orderPush,
  pushPayloadSchema,
  type LastPush,
  type PushOrder,
  type PushPayload,
} from './push-decision.ts';
import { readSignedBody } from './signed-body.ts';

/**
 * Largest webhook body read by default (GASPER_WEBHOOK_MAX_BYTES). GitHub caps payloads at
 * 25 MB, but a push's is a few KB per commit; a larger one is refused with 413.
 */
export const defaultWebhookMaxBytes = 2 * 1024 * 1024;

const signatureHeader = /^sha256=[0-9a-f]{64}$/;

apiRoutes.add({
  method: 'post',
  path: '/webhooks/github/:app',
  summary: 'GitHub push webhook: redeploy the pushed commit',
  tags: ['webhooks'],
  auth: 'github-signature',
  params: { app: 'the app name' },
  headers: {
    'X-GitHub-Event': '`push` or `ping`',
    'X-GitHub-Delivery': 'the delivery GUID (logged; not trusted: the signature does not cover it)',
  },
  description:
    "Verifies X-Hub-Signature-256 over the raw body while reading it (at most GASPER_WEBHOOK_MAX_BYTES). A push to the app's branch deploys exactly its `after` commit, " +
    'once: the same signed body again is a duplicate, and a push not newer (`repository.pushed_at`) than the last one deployed is ignored.',
  body: pushPayloadSchema.loose(),
  responses: {
    200: {
      description: '`ping`, or a payload already handled (`{duplicate: true, job}`), whatever its delivery id',
      schema: z
        .object({ ok: z.boolean() })
        .or(z.object({ duplicate: z.literal(true), delivery: z.string(), job: jobRefSchema.nullable() })),
    },
    202: {
      description:
        'redeploy enqueued, or the event was ignored (`{ignored: true, reason}`: another branch, a tag, a deletion, another event, a push older than the last deployed)',
      schema: z
        .object({ app: z.string(), branch: z.string(), commit: z.string(), release: z.string(), job: jobRefSchema })
        .or(z.object({ ignored: z.literal(true), reason: z.string() })),
    },
    401: { description: 'missing, malformed or wrong signature; nothing is enqueued' },
    404: { description: 'signed, but the app does not exist or has no webhook' },
    413: { description: 'the body is over GASPER_WEBHOOK_MAX_BYTES; refused without reading the rest' },
    415: { description: 'a Content-Encoding (GitHub sends bodies uncompressed)' },
  },
});

/**
 * `POST /webhooks/github/:app`: GitHub push webhooks. Not behind the admin token: a delivery
 * authenticates by its `X-Hub-Signature-256`, an HMAC-SHA256 of the raw body with the app's
 * webhook secret, computed while the body is read (signed-body.ts) and compared in constant time.
 *
 * What an unsigned request learns: nothing. A missing or malformed signature is refused (401)
 * before the app is looked up. A well-formed one for an app that does not exist, or has no
 * webhook, gets 404 (the same answer for both): app names are public anyway, as host names
 * under the domain, and the 404 tells whoever set the hook up that it points nowhere.
 */
export function githubWebhookRouter(deps: ApiDeps): Router {
  const deliveries = new Deliveries(deps.redis);
  const router = Router();
  const maxBytes = deps.options.webhookMaxBytes ?? defaultWebhookMaxBytes;

  router.post('/github/:app', async (req, res, next) => {
    // Until the body is read and verified, a refusal closes the connection: Node would otherwise
    // read (and throw away) all the rest of a body nobody signed.
    res.set('connection', 'close');
    const signature = req.get('x-hub-signature-256') ?? '';
    if (!signatureHeader.test(signature)) {
      throw new ApiError(
        'UNAUTHORIZED',
        'missing or malformed X-Hub-Signature-256 header (sha256=<hex HMAC of the body>)',
      );
    }
    const name = req.params.app;
    const doc = appNameProblem(name) ? undefined : await deps.apps.get(name);
    if (!doc?.webhook) throw new ApiError('NOT_FOUND', `no webhook is set up for app "${name}"`);
    const body = await readSignedBody(req, {
      secret: deps.secrets.open(doc.webhook.sealedSecret),
      signature,
      maxBytes,
    });
    res.removeHeader('connection');

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
      throw new ApiError('VALIDATION_FAILED', 'missing or malformed X-GitHub-Delivery header', {
        'X-GitHub-Delivery': 'required: the delivery GUID',
      });
    }
    const digest = crypto.createHash('sha256').update(body).digest('hex');
    const claim = await deliveries.claim(doc.uid, digest);
    if (!claim.claimed) {
      res.status(200).json({ duplicate: true, delivery, job: claim.jobId ? jobRef(claim.jobId) : null });
      return;
    }
    const order = await recordPush(deps.apps, doc, parsed.data, decision.commit);
    if (!order.deploy) {
      await deliveries.release(doc.uid, digest);
      res.status(202).json({ ignored: true, reason: order.reason });
      return;
    }
    let redeploy;
    try {
      const cause = { by: webhookActor, reason: pushReason(decision.commit, decision.branch) };
      redeploy = await enqueueRedeploy(deps, doc.name, cause, { commit: decision.commit });
    } catch (err) {
      await Promise.allSettled([deliveries.release(doc.uid, digest), order.undo()]);
      return next(err);
    }
    if (!redeploy) {
      await deliveries.release(doc.uid, digest);
      res.status(202).json({ ignored: true, reason: 'the app is being deleted' });
      return;
    }
    await deliveries.record(doc.uid, digest, redeploy.job.id);
    deps.log.info(
      { app: doc.name, commit: decision.commit, delivery, job: redeploy.job.id },
      'push webhook: redeploying',
    );
    res.status(202).json({
      app: doc.name,
      branch: decision.branch,
      commit: decision.commit,
      release: redeploy.release,
      job: jobRef(redeploy.job.id),
    });
  });
  return router;
}

/**
 * Keeps the push as the app's last deployed one when it is newer (`orderPush`), atomically with
 * concurrent deliveries. `undo` puts the previous record back when the deploy could not be
 * enqueued, so GitHub's redelivery of this push still deploys.
 */
async function recordPush(
  apps: AppStore,
  doc: AppDocument,
  push: PushPayload,
  commit: string,
): Promise<{ deploy: true; undo: () => Promise<void> } | Extract<PushOrder, { deploy: false }>> {
  let order: PushOrder = { deploy: false, reason: 'the app or its webhook changed meanwhile' };
  let previous: LastPush | undefined;
  await apps.update(doc.name, (d) => {
    order = { deploy: false, reason: 'the app or its webhook changed meanwhile' };
    if (d.uid !== doc.uid || !d.webhook || d.webhook.sealedSecret !== doc.webhook?.sealedSecret) return undefined;
    previous = d.webhook.lastPush;
    order = orderPush(previous, push, commit);
    return order.deploy ? { ...d, webhook: { ...d.webhook, lastPush: order.lastPush } } : undefined;
  });
  const decided = order as PushOrder;
  if (!decided.deploy) return decided;
  const written = JSON.stringify(decided.lastPush);
  return {
    deploy: true,
    undo: async () => {
      await apps.update(doc.name, (d) =>
        d.uid === doc.uid && d.webhook && JSON.stringify(d.webhook.lastPush) === written
          ? { ...d, webhook: { ...d.webhook, lastPush: previous } }
          : undefined,
      );
    },
  };
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
