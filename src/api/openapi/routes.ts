import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { buildOpenApiDocument } from './document.ts';
import { apiRoutes } from './registry.ts';
import './core-routes.ts';

const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const packageVersion: string = JSON.parse(
  fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
).version;

const docsPage = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Gasper API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// A file rather than an inline script, so the page works under a CSP without 'unsafe-inline'.
const initScript = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true });\n`;

apiRoutes.add(
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This OpenAPI 3 document',
    tags: ['meta'],
    auth: 'none',
    responses: { 200: { description: 'the document', schema: z.object({ openapi: z.string() }).loose() } },
  },
  {
    method: 'get',
    path: '/docs',
    summary: 'Browsable API documentation (Swagger UI, served locally)',
    tags: ['meta'],
    auth: 'none',
    responses: { 200: { description: 'an HTML page', schema: z.string(), contentType: 'text/html' } },
  },
);

/**
 * `/openapi.json` and `/docs`, without authentication: the document describes the API, it
 * holds no data. Swagger UI comes from the pinned swagger-ui-dist package, never a CDN.
 */
export function openApiRouter(): Router {
  const router = Router();
  let document: unknown;
  router.get('/openapi.json', (_req, res) => {
    // Built on first request, once every router module has registered its routes.
    document ??= buildOpenApiDocument(apiRoutes, {
      title: 'Gasper API',
      version: packageVersion,
      description:
        'Gasper, a self-hosted platform-as-a-service. Every route but the public ones needs `Authorization: Bearer <admin token>`.',
    });
    res.json(document);
  });
  router.get('/docs', (_req, res) => {
    res
      .type('html')
      .set('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
      .send(docsPage);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(initScript);
  });
  router.use('/docs/assets', express.static(swaggerUiDir, { index: false, maxAge: '1h' }), (req, _res, next) => {
    next(new ApiError('NOT_FOUND', `no file ${req.path}`));
  });
  return router;
}
