import express, { type Express } from 'express';
import { authenticate, limitJobCreation, requireScope } from './auth.ts';
import { adminSessionRouter } from './admin/session.ts';
import { queuesBoardRouter } from './admin/queues-board.ts';
import type { ApiDeps } from './deps.ts';
import { ApiError, errorHandler } from './errors.ts';
import { metricsHandler } from './prometheus.ts';
import { appDatabasesRouter } from './routes/app-databases.ts';
import { appOperationsRouter } from './routes/app-operations.ts';
import { appRunsRouter } from './routes/app-runs.ts';
import { appsRouter } from './routes/apps.ts';
import { appVolumesRouter } from './routes/app-volumes.ts';
import { databasesRouter } from './routes/databases.ts';
import { jobsRouter } from './routes/jobs.ts';
import { usersRouter } from './routes/users.ts';
import { nodesRouter } from './routes/nodes.ts';
import { runtimesRouter } from './routes/runtimes.ts';
import { sshCredentialsRouter } from './routes/ssh-credentials.ts';
import { domainsRouter } from './routes/domains.ts';
import { openApiRouter } from './openapi/routes.ts';
import { githubWebhookRouter } from './webhooks/github.ts';
import { webhookSecretRouter } from './webhooks/secret-routes.ts';
import { observabilityRouter } from './routes/observability.ts';
import { transfersRouter } from './routes/transfers.ts';
import { terminalRouter } from './routes/terminal.ts';
import { dashboardRouter } from '../dashboard/router.ts';

/** The express application, without a listening socket (supertest drives it directly). */
export function createApiApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // X-Forwarded-For decides the address failed authentications are counted for (and
  // `req.protocol` the webhook URL's scheme): believed only from the configured proxies.
  app.set('trust proxy', deps.options.trustedProxies?.length ? [...deps.options.trustedProxies] : false);

  app.get('/healthz', async (_req, res) => {
    await deps.redis.ping();
    res.json({ ok: true });
  });

  // Before the token check: public documents, signed webhooks (raw body), and the admin pages
  // a browser opens with a session cookie.
  app.use(openApiRouter());
  app.use('/webhooks', githubWebhookRouter(deps));
  app.use('/admin', adminSessionRouter(deps.redis));
  app.use(queuesBoardRouter(deps));
  app.get('/metrics', metricsHandler(deps));
  // The web dashboard's static page: it signs in with a token the browser then sends itself.
  app.use('/dashboard', dashboardRouter());

  app.use(
    authenticate({
      ...deps,
      authFailures: deps.limits.authFailures,
      authFailuresPerMinute: deps.options.authFailuresPerMinute,
    }),
  );
  app.use(requireScope());
  app.use((req, _res, next) => {
    // A chunked upload has a body and no Content-Length.
    const hasBody = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
    if (hasBody && !req.is('application/json')) {
      return next(new ApiError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json'));
    }
    next();
  });
  app.use(express.json({ limit: deps.options.bodyLimit ?? '256kb' }));
  app.use(limitJobCreation(deps.limits.changes, deps.options.changesPerMinute));
  app.use('/apps', appDatabasesRouter(deps));
  app.use('/apps', appOperationsRouter(deps));
  app.use('/apps', appRunsRouter(deps));
  app.use('/apps', appsRouter(deps));
  app.use('/apps', appVolumesRouter(deps));
  app.use('/databases', databasesRouter(deps));
  app.use('/users', usersRouter(deps));
  app.use('/apps', sshCredentialsRouter(deps));
  app.use('/apps', domainsRouter(deps));
  app.use('/apps', observabilityRouter(deps));
  app.use('/apps', terminalRouter(deps));
  app.use('/jobs', jobsRouter(deps));
  app.use('/nodes', nodesRouter(deps));
  app.use('/runtimes', runtimesRouter());
  app.use('/apps', webhookSecretRouter(deps));
  app.use(transfersRouter(deps));
  app.use((req, _res, next) => next(new ApiError('NOT_FOUND', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.log));
  return app;
}
