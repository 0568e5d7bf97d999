import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
import { ApiError } from '../api/errors.ts';
import { runtimeNames } from '../core/runtimes.ts';
import { vendorRouter } from './vendor.ts';

/**
 * The dashboard's static files: plain HTML, CSS and ES modules, served as they are (no build
 * step), kept in src/ only: found from src/dashboard/ and from its compiled twin dist/dashboard/.
 */
export const dashboardPublicDir = fileURLToPath(new URL('../../src/dashboard/public/', import.meta.url));

/**
 * Scripts and styles only from this origin, requests only to this origin (the API), nothing
 * inline, no plugins, no frames, no `<base>` and no form posts anywhere: the page's forms are
 * handled by its scripts. Links to apps are navigations, which a CSP does not govern.
 */
export const dashboardCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'content-security-policy': dashboardCsp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    // The files are small and change with Gasper itself: revalidate rather than run stale code.
    'cache-control': 'no-cache',
  });
  next();
};

/**
 * `/dashboard`: the web dashboard, mounted before the token check because a browser loads the
 * page before it has signed in. The page holds no data: everything it shows comes from the API,
 * fetched by its scripts with the user's token (`Authorization: Bearer`, never a cookie, so there
 * is nothing for another site to ride on).
 */
export function dashboardRouter(): Router {
  const router = Router();
  router.use(securityHeaders);
  // Relative URLs in the page resolve under /dashboard/ only with the trailing slash.
  router.get('/', (req, res, next) =>
    req.originalUrl.split('?')[0]!.endsWith('/') ? next() : res.redirect(301, '/dashboard/'),
  );
  // Public facts the create form needs, so the page never hard-codes them.
  router.get('/settings.json', (_req, res) => {
    res.json({ runtimes: runtimeNames });
  });
  // xterm.js for the web terminal, from node_modules.
  router.use('/vendor', vendorRouter());
  router.use(express.static(dashboardPublicDir, { index: 'index.html', redirect: false, dotfiles: 'ignore' }));
  router.use((req, _res, next) => next(new ApiError('NOT_FOUND', `no dashboard file ${req.path}`)));
  return router;
}
