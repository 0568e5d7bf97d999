import crypto from 'node:crypto';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { checkDomainName, platformHostProblem, platformZoneProblem } from '../../core/domain-name.ts';
import { enqueueCertificate } from '../../jobs/certificate-jobs.ts';
import type { EnqueuedJob } from '../../jobs/enqueue.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { acmeOffNotice } from '../../certificates/domain-outcome.ts';
import type { DomainDocument } from '../../store/domain-document.ts';
import { principalOf } from '../auth.ts';
import { DomainStore } from '../../store/domains.ts';
import { addDomainRequest, dnsAdvice, dnsAdviceSchema, domainView, domainViewSchema } from '../domain-request.ts';
import type { ApiDeps } from '../deps.ts';
import { ownedDomainCount } from '../quotas.ts';
import { ApiError, validationError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { jobRef } from '../views.ts';
import { visibleApp } from '../visible.ts';

/** `GASPER_DOMAINS_PER_APP`'s default. */
export const defaultDomainsPerApp = 20;
/** `GASPER_DOMAINS_PER_OWNER`'s default. */
export const defaultDomainsPerOwner = 100;

/**
 * `/apps/:name/domains`: custom domains of an app. Tenants do not trust each other: adding one
 * stores it `pending` with a random token that a TXT record `_gasper-verify.<domain>` must hold
 * (the platform answers every HTTP-01 challenge, so the CA's check proves nothing about who asked).
 * The certificates service checks the record, then announces the domain (the proxy routes it) and
 * orders its certificate, moving it to `issued` or `failed`. An administrator may skip the proof,
 * and GASPER_DOMAIN_VERIFICATION=off skips it for everyone (one tenant): the domain is routed at once.
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
    const inZone = platformZoneProblem(domain, zone) ?? platformHostProblem(domain, deps.options.platformHost);
    if (inZone) throw new ApiError('VALIDATION_FAILED', `invalid request: domain: ${inZone}`, { domain: inZone });
    const principal = principalOf(res);
    const admin = principal.role === 'admin';
    if (body.data.skipVerification && !admin) {
      const problem = 'only an administrator may skip the ownership proof';
      throw new ApiError('FORBIDDEN', problem, { skipVerification: problem });
    }
    const verify = (deps.options.domainVerification ?? true) && !body.data.skipVerification;
    const acme = deps.options.acme ?? true;

    // One ACME account serves everyone, so one user's many names would spend everyone's CA limits.
    const ownerLimit = deps.options.domainsPerOwner ?? defaultDomainsPerOwner;
    if (!admin) {
      const owned = await ownedDomainCount(deps, app.owner);
      if (owned >= ownerLimit) {
        const problem = `at most ${ownerLimit} per user over all their apps (GASPER_DOMAINS_PER_OWNER)`;
        throw new ApiError(
          'DOMAIN_OWNER_LIMIT',
          `"${app.owner}" already has ${owned} custom domain(s), the limit per user (GASPER_DOMAINS_PER_OWNER); remove one first`,
          { domain: problem },
        );
      }
    }

    const now = new Date().toISOString();
    const doc: DomainDocument = {
      domain,
      app: name,
      appUid: app.uid,
      owner: app.owner,
      status: 'pending',
      attempts: 0,
      ...(verify ? { verification: { token: `gasper-verify=${crypto.randomBytes(18).toString('base64url')}` } } : {}),
      ...(!verify && !acme ? { lastError: acmeOffNotice } : {}),
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
    // A job verifies the TXT record (with ACME off too), then orders the certificate when ACME is on.
    let job: EnqueuedJob | undefined;
    if (verify || acme) {
      try {
        job = await enqueueCertificate(deps.redis, deps.queues, { kind: 'issue', domain, owner: app.owner });
      } catch (err) {
        await store.remove(domain, name, app.uid);
        throw err;
      }
    }
    deps.log.info({ app: name, domain, job: job?.id, verify }, 'custom domain added');
    res
      .status(202)
      .location(`/apps/${name}/domains/${domain}`)
      .json({
        domain: domainView(doc),
        ...(job ? { job: jobRef(job.id) } : {}),
        dns: dnsAdvice(domain, name, zone, deps.options.proxyAddresses ?? []),
        certificates: acme ? 'automatic' : 'off',
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
    summary: 'Add a custom domain to an app; once its ownership is proven, it is routed and certified',
    description:
      "Stores the domain `pending`. Unless an administrator skips it (`skipVerification`) or `GASPER_DOMAIN_VERIFICATION` is off, `domain.verification` is a TXT record to create (`_gasper-verify.<domain>`): a job checks it, and only then routes the domain and orders its certificate (ACME HTTP-01), so no user can take a name that another's DNS points here. `dns` lists the address records to create. `certificates` is `off` when `GASPER_ACME` is: the domain is then served over HTTP only (and `lastError` says so), and `job` is absent when nothing is to verify either. Poll `GET /apps/:name/domains/:domain` (or the job) for `issued` or `failed` and `lastError`.",
    tags: ['domains'],
    auth: 'admin',
    params,
    body: addDomainRequest,
    responses: {
      202: {
        description: 'added; the verification and issuance job is queued',
        schema: z.object({
          domain: domainViewSchema,
          job: z.object({ id: z.string(), url: z.string() }).optional(),
          dns: dnsAdviceSchema,
          certificates: z.enum(['automatic', 'off']),
        }),
      },
      400: {
        description:
          "not a DNS name, a name in the platform's own domain, or the platform host (`GASPER_PLATFORM_HOST`) (`fields.domain`)",
      },
      403: { description: '`skipVerification` from a user who is not an administrator' },
      404: { description: 'no such app' },
      409: {
        description:
          'the domain is used by an app already, verified or not (`DOMAIN_EXISTS`), the app has `GASPER_DOMAINS_PER_APP` (`DOMAIN_LIMIT`), or its owner `GASPER_DOMAINS_PER_OWNER` (`DOMAIN_OWNER_LIMIT`; administrators are exempt)',
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
