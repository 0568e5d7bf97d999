import express, { type Express } from 'express';
import { requireAdmin } from './auth.ts';
import type { ApiDeps } from './deps.ts';
import { ApiError, errorHandler } from './errors.ts';
import { appOperationsRouter } from './routes/app-operations.ts';
import { appsRouter } from './routes/apps.ts';
import { jobsRouter } from './routes/jobs.ts';

/** The express application, without a listening socket (supertest drives it directly). */
export function createApiApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.get('/healthz', async (_req, res) => {
    await deps.redis.ping();
    res.json({ ok: true });
  });

  app.use(requireAdmin(deps.redis));
  app.use((req, _res, next) => {
    // A chunked upload has a body and no Content-Length.
    const hasBody = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
    if (hasBody && !req.is('application/json')) {
      return next(new ApiError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json'));
    }
    next();
  });
  app.use(express.json({ limit: deps.options.bodyLimit ?? '256kb' }));
  app.use('/apps', appOperationsRouter(deps));
  app.use('/apps', appsRouter(deps));
  app.use('/jobs', jobsRouter(deps));
  app.use((req, _res, next) => next(new ApiError('NOT_FOUND', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.log));
  return app;
}
