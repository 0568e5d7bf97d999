#!/usr/bin/env node
// The compiled CLI (dist/cli.js, from `npm run build`, which `npm ci` runs through `prepare`):
// plain JavaScript, so `gasper --help` starts in a few tens of milliseconds instead of seconds
// of compiling TypeScript. GASPER_FROM_SOURCE=1 runs src/cli.ts through tsx instead (development).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli.js', import.meta.url);
if (process.env.GASPER_FROM_SOURCE === '1') {
  (await import('tsx/esm/api')).register();
  await import('../src/cli.ts');
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write(
    'gasper: the compiled CLI (dist/cli.js) is missing: run `npm run build` in the gasper directory\n' +
      '  (npm ci and scripts/setup.sh run it), or set GASPER_FROM_SOURCE=1 to run the TypeScript sources\n',
  );
  process.exit(1);
}
