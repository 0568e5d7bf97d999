import { Router, type Response } from 'express';
import { z } from 'zod';
import { checkDomainName, platformZoneProblem } from '../../core/domain-name.ts';
import { enqueueCertificate } from '../../jobs/certificate-jobs.ts';
import type { EnqueuedJob } from '../../jobs/enqueue.ts';
import type { AppDocument } from '../../store/app-document.ts';
import type { DomainDocument } from '../../store/domain-document.ts';
import { DomainStore } from '../../store/domains.ts';
import { addDomainRequest, dnsAdvice, dnsAdviceSchema, domainView, domainViewSchema } from '../domain-request.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { jobRef } from '../views.ts';
import { visibleApp } from '../visible.ts';

/** `GASPER_DOMAINS_PER_APP`'s default. */
export const defaultDomainsPerApp = 20;

/**
 * `/apps/:name/domains`: custom domains of an app. Adding one stores it `pending` (the proxy routes
 * it at once, plain HTTP and the ACME challenge) and queues its certificate's issuance; the
 * certificates service moves it to `issued` or `failed`.
 */
export function domainsRouter(deps: ApiDeps): Router {
  const store = new DomainStore(deps.redis);
  const router = Router();
  const zone = deps.options.domain;
  const noApp = (name: string) => new ApiError('NOT_FOUND', `app "${name}" not found`);

  async function requireApp(res: Response, name: string): Promise<AppDocument> {
    const doc = await visibleApp(deps.apps, res, name);
    if (doc.status === 'deleting') throw noApp(name);
    return doc;
  }

  /** The stored form of a domain in a path; undefined when it cannot be one (hence absent). */
  const domainParam = (raw: string) => {
    const check = checkDomainName(raw);
    return check.ok ? check.domain : undefined;
  };

  router.post('/:name/domains', async (req, res) => {
    const name = req.params.name;
    const app = await requireApp(res, name);
    const body = addDomainRequest.safeParse(req.body ?? {});
    if (!body.success) throw validationError(body.error);
    const domain = body.data.domain;
    const inZone = platformZoneProblem(domain, zone);
    if (inZone) throw new ApiError('VALIDATION_FAILED', `invalid request: domain: ${inZone}`, { domain: inZone });

    const now = new Date().toISOString();
    const doc: DomainDocument = {
      domain,
      app: name,
      appUid: app.uid,
      owner: app.owner,
      status: 'pending',
      attempts: 0,
      createdAt: now,
      updatedAt: now,
    };
    const limit = deps.options.domainsPerApp ?? defaultDomainsPerApp;
    const created = await store.create(doc, limit);
    if (created === 'taken') {
      const holder = await store.get(domain);
      // Whose it is stays unsaid unless it is this very app.
      const problem =
        holder?.app === name && holder.appUid === app.uid
          ? `"${domain}" is already a domain of this app`
          : `"${domain}" is already used by another app`;
      throw new ApiError('DOMAIN_EXISTS', problem, { domain: problem });
    }
    if (created === 'limit') {
      throw new ApiError(
        'DOMAIN_LIMIT',
        `app "${name}" already has ${limit} domain(s), the limit per app (GASPER_DOMAINS_PER_APP); remove one first`,
        { domain: `at most ${limit} per app (GASPER_DOMAINS_PER_APP)` },
      );
    }
    // The app was deleted (or began to be) since it was read.
    if (created === 'no-app') throw noApp(name);
    let job: EnqueuedJob;
    try {
      job = await enqueueCertificate(deps.redis, deps.queues, { kind: 'issue', domain, owner: app.owner });
    } catch (err) {
      await store.remove(domain, name, app.uid);
      throw err;
    }
    deps.log.info({ app: name, domain, job: job.id }, 'custom domain added');
    res
      .status(202)
      .location(`/apps/${name}/domains/${domain}`)
      .json({
        domain: domainView(doc),
        job: jobRef(job.id),
        dns: dnsAdvice(domain, name, zone, deps.options.proxyAddresses ?? []),
      });
  });

  router.get('/:name/domains', async (req, res) => {
    const app = await visibleApp(deps.apps, res, req.params.name);
    const domains = (await store.listByApp(app.name)).filter((d) => d.appUid === app.uid);
    res.json({ domains: domains.map(domainView) });
  });

  router.get('/:name/domains/:domain', async (req, res) => {
    const app = await visibleApp(deps.apps, res, req.params.name);
    const domain = domainParam(req.params.domain);
    const doc = domain ? await store.get(domain) : undefined;
    if (!doc || doc.app !== app.name || doc.appUid !== app.uid)
      throw new ApiError('NOT_FOUND', `app "${app.name}" has no domain "${req.params.domain}"`);
    res.json({
      domain: domainView(doc),
      dns: dnsAdvice(doc.domain, app.name, zone, deps.options.proxyAddresses ?? []),
    });
  });

  router.delete('/:name/domains/:domain', async (req, res) => {
    // A deleting app's domains go with it; removing one meanwhile is harmless.
    const app = await visibleApp(deps.apps, res, req.params.name);
    const domain = domainParam(req.params.domain);
    if (!domain || !(await store.remove(domain, app.name, app.uid)))
      throw new ApiError('NOT_FOUND', `app "${app.name}" has no domain "${req.params.domain}"`);
    deps.log.info({ app: app.name, domain }, 'custom domain removed');
    res.status(204).end();
  });

  return router;
}

const params = { name: 'the app name' };
const domainParams = { ...params, domain: 'the custom domain' };
apiRoutes.add(
  {
    method: 'post',
    path: '/apps/:name/domains',
    summary: 'Add a custom domain to an app; its certificate is issued automatically',
    description:
      'Stores the domain `pending` and routes it to the app at once; a job gets its certificate (ACME HTTP-01). `dns` lists the records to create. Poll `GET /apps/:name/domains/:domain` (or the job) for `issued` or `failed` and `lastError`.',
    tags: ['domains'],
    auth: 'admin',
    params,
    body: addDomainRequest,
    responses: {
      202: {
        description: 'added; the issuance job is queued',
        schema: z.object({
          domain: domainViewSchema,
          job: z.object({ id: z.string(), url: z.string() }),
          dns: dnsAdviceSchema,
        }),
      },
      400: { description: "not a DNS name, or a name in the platform's own domain (`fields.domain`)" },
      404: { description: 'no such app' },
      409: {
        description:
          'the domain is used by an app already (`DOMAIN_EXISTS`), or the app has `GASPER_DOMAINS_PER_APP` (`DOMAIN_LIMIT`)',
      },
    },
  },
  {
    method: 'get',
    path: '/apps/:name/domains',
    summary: "List an app's custom domains with their certificate status",
    tags: ['domains'],
    auth: 'admin',
    params,
    responses: {
      200: { description: 'the domains', schema: z.object({ domains: z.array(domainViewSchema) }) },
      404: { description: 'no such app' },
    },
  },
  {
    method: 'get',
    path: '/apps/:name/domains/:domain',
    summary: 'One custom domain: its status, certificate, errors and the DNS records it needs',
    tags: ['domains'],
    auth: 'admin',
    params: domainParams,
    responses: {
      200: { description: 'the domain', schema: z.object({ domain: domainViewSchema, dns: dnsAdviceSchema }) },
      404: { description: 'no such app, or no such domain on it' },
    },
  },
  {
    method: 'delete',
    path: '/apps/:name/domains/:domain',
    summary: 'Remove a custom domain: its route and its certificate go',
    tags: ['domains'],
    auth: 'admin',
    params: domainParams,
    responses: { 204: { description: 'removed' }, 404: { description: 'no such app, or no such domain on it' } },
  },
);
