import { Router } from 'express';
import { z } from 'zod';
import { canSee } from '../../core/access.ts';
import { keys } from '../../core/keys.ts';
import { transferRefusal, type LinkedResource, type TransferRefusal } from '../../core/transfer-plan.ts';
import { createDatabaseEnqueuer } from '../../jobs/database-enqueue.ts';
import type { AppDocument } from '../../store/app-document.ts';
import { DatabaseStore } from '../../store/databases.ts';
import { DomainStore } from '../../store/domains.ts';
import { bumpAccessGeneration } from '../../store/access-watch.ts';
import { SshCredentialStore } from '../../store/ssh-credentials.ts';
import { principalOf } from '../auth.ts';
import { databaseView } from '../database-views.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, validationError } from '../errors.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { enforceAppQuotas, enforceDatabaseQuota, ownedDomainCount } from '../quotas.ts';
import { appView, jobRef } from '../views.ts';
import { visibleApp } from '../visible.ts';
import { redeployApp } from './app-databases.ts';
import { newDatabasePassword } from './databases.ts';
import { defaultDomainsPerOwner } from './domains.ts';
import { appJsonSchedulePrefix } from '../../core/schedule-ids.ts';
import { removeScheduler, schedulesQueueName } from '../../jobs/schedule-jobs.ts';
import { ScheduleStore } from '../../store/schedules.ts';

export const transferRequest = z.strictObject({
  to: z.string().min(1, 'names the user who receives it').max(100).describe('the user who receives it'),
});

/** What an app transfer revoked, named for the answer and the guide. */
const appRevocations = ['webhook', 'repoToken', 'sshKeys', 'sshPassword', 'schedules'] as const;
type AppRevocation = (typeof appRevocations)[number];

function refuse(refusal: TransferRefusal | undefined): void {
  if (!refusal) return;
  if (refusal.code === 'VALIDATION_FAILED')
    throw new ApiError('VALIDATION_FAILED', `invalid request: to: ${refusal.message}`, { to: refusal.message });
  throw new ApiError(refusal.code, refusal.message);
}

/** The receiver's quota refusal, naming the receiver (the catalogue's message names the quota). */
async function asReceiver(to: string, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (err) {
    if (err instanceof ApiError && err.code === 'QUOTA_EXCEEDED')
      throw new ApiError('QUOTA_EXCEEDED', `"${to}" cannot receive it: ${err.message}`);
    throw err;
  }
}

/**
 * `POST /apps/:name/transfer` and `POST /databases/:name/transfer`: gives a resource to another
 * user, within the receiver's quotas, revoking what the old owner knew or held (the list and its
 * reasons: core/transfer-plan.ts). Ownership changes by compare-and-set on the document; no event,
 * as neither the proxy nor DNS key anything by owner: open sessions learn of it through the
 * access counter (store/access-watch.ts).
 */
export function transfersRouter(deps: ApiDeps): Router {
  const router = Router();
  const databases = new DatabaseStore(deps.redis);
  const ssh = new SshCredentialStore(deps.redis);
  const enqueueDb = createDatabaseEnqueuer(deps.redis, deps.queues, deps.options.jobAttempts ?? 3);

  const parseBody = (body: unknown) => {
    const parsed = transferRequest.safeParse(body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    return parsed.data;
  };

  /** Removes the app's schedules made through the API (jobs/schedule-jobs.ts); true when there were any. */
  async function removeApiSchedules(app: string, uid: string): Promise<boolean> {
    const store = new ScheduleStore(deps.redis);
    const own = (await store.list(app)).filter((s) => s.uid === uid && !s.id.startsWith(appJsonSchedulePrefix));
    for (const schedule of own) {
      await removeScheduler(deps.queues.byName(schedulesQueueName), app, schedule.id);
      await store.remove(app, schedule.id);
    }
    return own.length > 0;
  }

  router.post('/apps/:name/transfer', async (req, res) => {
    const name = req.params.name;
    const app = await visibleApp(deps.apps, res, name);
    if (app.status === 'deleting') throw new ApiError('APP_BUSY', `app "${name}" is being deleted`);
    const { to } = parseBody(req.body);
    const caller = principalOf(res);
    const linked: LinkedResource[] = [];
    for (const db of app.databases ?? []) linked.push({ name: db, owner: (await databases.get(db))?.owner ?? '' });
    const receiverExists = (await deps.users.get(to)) !== undefined;
    refuse(transferRefusal('app', name, { caller, owner: app.owner, to, receiverExists, linked }));
    await asReceiver(to, () => enforceAppQuotas(deps, to, name, app, true));
    // As when a domain is added: an admin's request is not held to the per-owner limit.
    const domains = await deps.redis.scard(keys.appDomains(name));
    const limit = deps.options.domainsPerOwner ?? defaultDomainsPerOwner;
    if (caller.role !== 'admin' && domains > 0 && (await ownedDomainCount(deps, to)) + domains > limit)
      throw new ApiError(
        'DOMAIN_OWNER_LIMIT',
        `"${to}" cannot receive ${domains} more custom domain(s): at most ${limit} per user (GASPER_DOMAINS_PER_OWNER)`,
      );

    const revoked = new Set<AppRevocation>();
    if (app.webhook) revoked.add('webhook');
    if (app.repo.sealedCredentials) revoked.add('repoToken');
    if ((await ssh.listKeys(name)).length > 0) revoked.add('sshKeys');
    if (await ssh.passwordHash(name)) revoked.add('sshPassword');
    // Before the owner changes, so a crash in between never leaves the receiver's app with the
    // old owner's keys; again after, for a key the old owner added in between.
    await ssh.removeApp(name);
    const stored = await deps.apps.update(name, (d) => {
      if (d.owner !== app.owner || d.status === 'deleting') return undefined;
      const { sealedCredentials: _dropped, ...repo } = d.repo;
      const next: AppDocument = { ...d, owner: to, repo };
      delete next.webhook;
      return next;
    });
    if (!stored || stored.owner !== to)
      throw new ApiError('TRANSFER_CONFLICT', `app "${name}" changed owner or is being deleted; try again`);
    await ssh.removeApp(name);
    // The old owner's open follows, terminals and SSH sessions end within a second (store/access-watch.ts).
    await bumpAccessGeneration(deps.redis, { app: name });
    // Schedules made through the API run commands the old owner wrote, as the receiver's app, with
    // its env: they go. The app.json ones come from the repository and are made again by deploys.
    if (await removeApiSchedules(stored.name, stored.uid)) revoked.add('schedules');
    // Custom domains move with the app; their documents name the owner their certificate jobs count for.
    const domainStore = new DomainStore(deps.redis);
    for (const domain of await domainStore.listByApp(name))
      if (domain.appUid === stored.uid)
        await domainStore.update(domain.domain, (d) => (d.owner === to ? undefined : { ...d, owner: to }));
    deps.log.info({ app: name, from: app.owner, to, by: caller.user, revoked: [...revoked] }, 'app transferred');
    res.json({
      app: appView(stored, deps.options),
      transfer: { from: app.owner, to, revoked: appRevocations.filter((r) => revoked.has(r)) },
    });
  });

  router.post('/databases/:name/transfer', async (req, res) => {
    const name = req.params.name;
    const caller = principalOf(res);
    const db = await databases.get(name);
    if (!db || db.status === 'deleting' || !canSee(caller, db.owner))
      throw new ApiError('NOT_FOUND', `database "${name}" not found`);
    const { to } = parseBody(req.body);
    const linkedApps = (await deps.apps.list()).filter((a) => a.databases?.includes(name) && a.status !== 'deleting');
    const receiverExists = (await deps.users.get(to)) !== undefined;
    refuse(
      transferRefusal('database', name, {
        caller,
        owner: db.owner,
        to,
        receiverExists,
        linked: linkedApps.map((a) => ({ name: a.name, owner: a.owner })),
      }),
    );
    await asReceiver(to, () => enforceDatabaseQuota(deps, databases, to));
    // The old owner was shown the password: a new one, in the same write as the new owner, that
    // nobody is shown (the caller may be the old owner); the receiver rotates to learn one.
    const password = newDatabasePassword();
    const stored = await databases.update(name, (d) =>
      d.owner !== db.owner || d.status === 'deleting'
        ? undefined
        : { ...d, owner: to, sealedPassword: deps.secrets.seal(password), passwordVersion: d.passwordVersion + 1 },
    );
    if (!stored || stored.owner !== to)
      throw new ApiError('TRANSFER_CONFLICT', `database "${name}" changed owner or is being deleted; try again`);
    const job = await enqueueDb.rotatePassword(
      stored.node,
      { database: name, uid: stored.uid, version: stored.passwordVersion },
      stored.owner,
    );
    const withJob = (await databases.update(name, (d) => ({ ...d, lastJob: job.id }))) ?? stored;
    // Linked apps (the receiver's, by the rule above) get the new URL in a new release.
    const redeployedApps: string[] = [];
    for (const app of linkedApps) {
      await redeployApp(deps, app.name, { by: caller.user, reason: `database ${name} transferred to ${to}` });
      redeployedApps.push(app.name);
    }
    deps.log.info({ database: name, from: db.owner, to, by: caller.user }, 'database transferred');
    res.status(202).json({
      database: databaseView(withJob),
      job: jobRef(job.id),
      transfer: { from: db.owner, to, revoked: ['password'], redeployedApps },
    });
  });

  return router;
}

const appTransferredSchema = z.object({
  app: z.object({ name: z.string(), owner: z.string() }).passthrough(),
  transfer: z.object({
    from: z.string(),
    to: z.string(),
    revoked: z.array(z.enum(appRevocations)).describe('what the old owner held that no longer works'),
  }),
});
const databaseTransferredSchema = z.object({
  database: z.object({ name: z.string(), owner: z.string() }).passthrough(),
  job: z.object({ id: z.string(), url: z.string() }),
  transfer: z.object({
    from: z.string(),
    to: z.string(),
    revoked: z.array(z.literal('password')),
    redeployedApps: z.array(z.string()),
  }),
});
apiRoutes.add(
  {
    method: 'post',
    path: '/apps/:name/transfer',
    summary: 'Give the app to another user',
    tags: ['apps'],
    auth: 'admin',
    params: { name: 'the app name' },
    description:
      'Its owner or an admin only. The receiver must exist and have room in their quotas. Env, releases, domains and logs ' +
      'move with it; its push webhook, repository token and SSH keys and password are revoked (the old owner knew them), ' +
      "and the old owner's open web terminals, SSH connections and log and metrics follows end within about a second. " +
      'Refused while it is linked to databases the receiver does not own.',
    body: transferRequest,
    responses: {
      200: { description: 'transferred', schema: appTransferredSchema },
      400: { description: '`to` is missing, not a user, or already the owner' },
      403: { description: 'the caller is not the owner or an admin, or a quota of the receiver would break' },
      404: { description: 'no such app' },
      409: { description: 'linked to databases the receiver does not own, or a domain limit of the receiver' },
    },
  },
  {
    method: 'post',
    path: '/databases/:name/transfer',
    summary: 'Give the database to another user',
    tags: ['databases'],
    auth: 'admin',
    params: { name: 'the database name' },
    description:
      "Its owner or an admin only, within the receiver's database quota. Its password is rotated (a job, answered) and shown " +
      'to nobody: the receiver calls `POST /databases/:name/rotate-password` to get one. Refused while apps the receiver ' +
      'does not own are linked to it.',
    body: transferRequest,
    responses: {
      202: { description: 'transferred; the password rotation job', schema: databaseTransferredSchema },
      400: { description: '`to` is missing, not a user, or already the owner' },
      403: {
        description: 'the caller is not the owner or an admin, or the receiver has no database left in their quota',
      },
      404: { description: 'no such database' },
      409: { description: 'linked to apps the receiver does not own' },
    },
  },
);
