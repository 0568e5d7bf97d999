import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { newerSource } from './build-freshness.ts';
import { registerClientCommands } from './client/commands.ts';
import { examples } from './client/kit.ts';

/** The service commands; `up` runs them all (order as platform.ts's allServices). */
const services = ['worker', 'proxy', 'ssh', 'dns', 'api'] as const;
type Service = (typeof services)[number];

/**
 * Starts services through serve.ts, imported here and only here: the client commands and
 * `--help` never load the platform. Compiled (dist/cli.js), the services run compiled too
 * (dist/serve.js, built beside it): no compile at start-up (up about 1 s sooner), and none of
 * tsx's per-closure name-keeping in the hot paths (the proxy's CPU per kept-alive request 10–20%
 * lower: docs/development/benchmarks.md). Files the services read are found from either tree
 * (the dashboard's from src/, the runtime catalogue's from docker/).
 */
async function serve(which: readonly Service[]): Promise<void> {
  const compiled = !import.meta.url.endsWith('.ts');
  // A URL, not a relative specifier: the build must not follow it into the CLI's imports.
  const url = new URL(compiled ? './serve.js' : './serve.ts', import.meta.url).href;
  if (compiled) {
    // dist/cli.js is touched by every build (tsc leaves unchanged outputs alone): the build's time.
    const builtAt = fileURLToPath(new URL('./cli.js', import.meta.url));
    const stale = await newerSource(builtAt, fileURLToPath(new URL('../src/', import.meta.url)));
    if (stale) {
      process.stderr.write(
        `gasper: the compiled platform (dist/) is older than ${path.relative(process.cwd(), stale)}: ` +
          'run `npm run build` (scripts/setup.sh does), or GASPER_FROM_SOURCE=1 to run the sources\n',
      );
      process.exit(1);
    }
  }
  // Typed here rather than with `typeof import('./serve.ts')`, which would pull the platform into the build.
  const mod = (await import(url)) as { serve(services: readonly Service[]): Promise<void> };
  await mod.serve(which);
}

/**
 * The package's version, from the package.json beside src/ and dist/ (one small read: `--help`
 * stays fast); `unknown` for a copy of the CLI without it.
 */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The whole `gasper` command tree: the service commands, then the client commands. */
export function buildProgram(): Command {
  const program = new Command('gasper')
    .description('Your cloud in a binary: a self-hosted PaaS on Docker and Redis.')
    .version(packageVersion(), '-V, --version', 'print the version of gasper')
    .showSuggestionAfterError();
  examples(program, ['gasper login http://127.0.0.1:3000 --token gsp_…', 'gasper apps list', 'gasper help apps']);
  const serviceCommands: Record<Service | 'up', [string, readonly Service[]]> = {
    up: [
      'run the whole platform on this machine: worker, proxy, SSH, DNS and API (and Redis unless REDIS_URL)',
      services,
    ],
    api: ['run only the REST API (needs REDIS_URL)', ['api']],
    worker: ["run only this node's worker (needs REDIS_URL and Docker)", ['worker']],
    proxy: ['run only the reverse proxy (needs REDIS_URL)', ['proxy']],
    ssh: ["run only the SSH service into apps' containers (needs REDIS_URL and Docker)", ['ssh']],
    dns: ['run only the authoritative DNS for GASPER_DOMAIN (needs REDIS_URL)', ['dns']],
  };
  for (const [name, [description, which]] of Object.entries(serviceCommands)) {
    const command = program
      .command(name)
      .description(description)
      .action(() => serve(which));
    examples(
      command,
      name === 'up'
        ? ['gasper up', 'GASPER_DOMAIN=apps.example.com REDIS_URL=redis://10.0.0.5:6379 gasper up']
        : [`REDIS_URL=redis://10.0.0.5:6379 gasper ${name}`],
    );
  }
  registerClientCommands(program);
  return program;
}
