import { Router } from 'express';
import { findJob, viewJob } from '../../jobs/status.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';

export function jobsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/:id', async (req, res) => {
    const job = await findJob(deps.redis, deps.queues, req.params.id);
    if (!job) throw new ApiError('NOT_FOUND', `job "${req.params.id}" not found`);
    res.json({ job: await viewJob(deps.queues, job) });
  });
  return router;
}
