import { createRequire } from 'node:module';
import path from 'node:path';
import { Router } from 'express';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));

/**
 * Third-party browser files the dashboard loads, served from the installed npm packages (no CDN:
 * the CSP allows this origin only, and the version is the one package-lock.json pins). Only the
 * files named here are served, never a package's directory.
 */
export const vendorFiles: Readonly<Record<string, string>> = Object.freeze({
  'xterm.mjs': path.join(packageDir('@xterm/xterm'), 'lib/xterm.mjs'),
  'xterm.mjs.map': path.join(packageDir('@xterm/xterm'), 'lib/xterm.mjs.map'),
  'xterm.css': path.join(packageDir('@xterm/xterm'), 'css/xterm.css'),
  'addon-fit.mjs': path.join(packageDir('@xterm/addon-fit'), 'lib/addon-fit.mjs'),
  'addon-fit.mjs.map': path.join(packageDir('@xterm/addon-fit'), 'lib/addon-fit.mjs.map'),
});

/** `/dashboard/vendor/<file>`: the files above, under the dashboard's headers. */
export function vendorRouter(): Router {
  const router = Router();
  router.get('/:file', (req, res, next) => {
    const file = Object.hasOwn(vendorFiles, req.params.file) ? vendorFiles[req.params.file] : undefined;
    if (!file) return next();
    res.sendFile(file, { dotfiles: 'deny' });
  });
  return router;
}
