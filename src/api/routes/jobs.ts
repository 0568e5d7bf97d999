import { Router } from 'express';
import { canSee } from '../../core/access.ts';
import { keys } from '../../core/keys.ts';
import { findJob, viewJob } from '../../jobs/status.ts';
import { principalOf } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { jobNodeFields } from '../cluster/node-conditions.ts';

export function jobsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/:id', async (req, res) => {
    const owner = await deps.redis.get(keys.jobOwner(req.params.id));
    const job = canSee(principalOf(res), owner ?? undefined)
      ? await findJob(deps.redis, deps.queues, req.params.id)
      : undefined;
    if (!job) throw new ApiError('NOT_FOUND', `job "${req.params.id}" not found`);
    const view = await viewJob(deps.queues, job);
    res.json({ job: { ...view, ...(await jobNodeFields(deps, view, job.data)) } });
  });
  return router;
}
