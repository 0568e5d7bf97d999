import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router } from 'express';
import { z } from 'zod';
import { certificatesQueueName } from '../../jobs/certificate-jobs.ts';
import type { ApiDeps } from '../deps.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { requireAdminOrSession } from './session.ts';

export const boardPath = '/admin/queues';

apiRoutes.add({
  method: 'get',
  path: boardPath,
  summary: 'Bull Board: every node queue, the certificates queue, and their jobs (HTML)',
  tags: ['admin'],
  auth: 'admin-or-session',
  description:
    'Bull Board UI and its JSON API under /admin/queues/api. Browsers without a session are redirected to /admin/login.',
  responses: {
    200: { description: 'the board', schema: z.string(), contentType: 'text/html' },
    303: { description: 'redirect to the sign-in form' },
  },
});

/**
 * Bull Board at `/admin/queues`, for admins only. Queues are one per node, so the board's list
 * comes from the node documents: it is brought up to date on each request (a set-membership
 * read), so a node that registers shows up on the next page load or refresh of the board.
 */
export function queuesBoardRouter(deps: ApiDeps): Router {
  const serverAdapter = new ExpressAdapter().setBasePath(boardPath);
  const board = createBullBoard({ queues: [], serverAdapter, options: { uiConfig: { boardTitle: 'Gasper queues' } } });
  const shown = new Set<string>();

  async function addNewQueues(): Promise<void> {
    // The nodes' queues, and the cluster-wide one of certificate jobs.
    const queues = [
      ...(await deps.nodes.list()).map((n) => deps.queues.forNode(n.id)),
      deps.queues.byName(certificatesQueueName),
    ];
    for (const queue of queues) {
      if (shown.has(queue.name)) continue;
      shown.add(queue.name);
      board.addQueue(new BullMQAdapter(queue));
    }
  }

  const router = Router();
  router.use(
    boardPath,
    requireAdminOrSession(deps, '/admin/login'),
    async (_req, _res, next) => {
      await addNewQueues();
      next();
    },
    serverAdapter.getRouter(),
  );
  return router;
}
