import type { Command } from 'commander';
import { patched } from './env-commands.ts';
import { type Json, table } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';

/** Options that cannot go together, each with the one it contradicts. */
const exclusive: [string, string, string][] = [
  ['build', 'defaultBuild', '--build or --default-build'],
  ['run', 'defaultRun', '--run or --default-run'],
  ['dockerfile', 'defaultDockerfile', '--dockerfile/--context or --default-dockerfile'],
  ['context', 'defaultDockerfile', '--dockerfile/--context or --default-dockerfile'],
  ['buildArg', 'noBuildArgs', '--build-arg or --no-build-args'],
];

/**
 * The `PATCH /apps/:name` body `gasper apps update` asks for: only what the options name; the
 * `--default-…` options go back to what Gasper decides (`null`). Undefined for none. Pure:
 * test/client/app-update.unit.test.ts.
 */
export function updateBody(o: Json): Json | undefined {
  for (const [a, b, words] of exclusive) if (o[a] !== undefined && o[b]) throw new Error(`give ${words}, not both`);
  const dockerfile =
    o.dockerfile !== undefined || o.context !== undefined
      ? {
          ...(o.dockerfile !== undefined ? { path: o.dockerfile } : {}),
          ...(o.context !== undefined ? { context: o.context } : {}),
        }
      : o.defaultDockerfile
        ? null
        : undefined;
  const body: Json = {
    ...(o.runtime !== undefined ? { runtime: o.runtime } : {}),
    ...(o.builder !== undefined ? { builder: o.builder } : {}),
    ...(dockerfile !== undefined ? { dockerfile } : {}),
    ...(o.buildArg !== undefined ? { buildArgs: o.buildArg } : o.noBuildArgs ? { buildArgs: null } : {}),
    ...(o.build !== undefined ? { build: o.build } : o.defaultBuild ? { build: null } : {}),
    ...(o.run !== undefined ? { run: o.run } : o.defaultRun ? { run: null } : {}),
    ...(o.healthPath !== undefined ? { healthCheck: { path: o.healthPath } } : {}),
  };
  return Object.keys(body).length ? body : undefined;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * `gasper apps update`: how the app is built and run (runtime, builder, Dockerfile, build and
 * run commands, health check path), as `PATCH /apps/:name`; a change that needs new containers
 * redeploys the app, followed like a deploy. Env, scale, the repository and HTTPS have their own
 * commands.
 */
export function registerAppUpdateCommand(apps: Command, kit: CommandKit): void {
  const update = apps
    .command('update')
    .description('change how the app is built and run (runtime, builder, Dockerfile, commands, health check)')
    .argument('<app>')
    .option('--runtime <runtime>', 'node, python, static, … (see gasper runtimes)')
    .option('--builder <builder>', 'auto (the Dockerfile if there is one), dockerfile or runtime')
    .option('--dockerfile <path>', 'the Dockerfile, relative to the repository root')
    .option('--context <path>', 'the Docker build context, relative to the repository root')
    .option('--default-dockerfile', 'the Dockerfile at the root, the root as the context')
    .option('--build-arg <NAME>', 'an env variable passed to the Docker build (repeatable; replaces the list)', collect)
    .option('--no-build-args', 'pass no env variable to the Docker build')
    .option('--build <command>', 'a build command (repeatable, run in order; replaces the list)', collect)
    .option('--default-build', "the runtime's default build")
    .option('--run <command>', 'the command that starts the app')
    .option('--default-run', "the Procfile's web: or the runtime's default")
    .option('--health-path <path>', 'the path the deploy and the supervisor probe (e.g. /health)')
    .option('--no-wait', 'return once the redeploy is queued')
    .action(
      kit.action(async (client, app: string, o: Json) => {
        // commander sets `buildArgs: true` for the default of --no-build-args: only an explicit one counts.
        const body = updateBody({ ...o, noBuildArgs: o.buildArgs === false });
        if (!body)
          throw new Error(
            'nothing to change: give --runtime, --builder, --dockerfile, --context, --build, --run, --health-path or a --default-… option',
          );
        const result = await client.request<Json>('PATCH', `/apps/${enc(app)}`, body);
        const said = (result.changed ?? []).join(', ') || 'nothing';
        await patched(kit, client, app, result, o.wait, `changed ${said}`);
      }),
    );
  examples(update, [
    'gasper apps update web --runtime node',
    'gasper apps update api --builder dockerfile --dockerfile services/api/Dockerfile --context services/api',
    "gasper apps update web --build 'npm ci' --build 'npm run build' --run 'node dist/server.js'",
    'gasper apps update web --default-build --default-run',
    'gasper apps update web --health-path /health',
  ]);
}

/** `gasper runtimes`: what `--runtime` may be, the versions each offers and the files that choose one. */
export function registerRuntimesCommand(program: Command, kit: CommandKit): void {
  const runtimes = program
    .command('runtimes')
    .description('the runtimes an app may use, their versions, and the files that choose one')
    .action(
      kit.action(async (client) => {
        const body = await client.request<{ runtimes: Json[] }>('GET', '/runtimes');
        kit.print(body, () =>
          table(
            ['RUNTIME', 'VERSIONS', 'DEFAULT', 'CHOSEN BY'],
            body.runtimes.map((r) => [
              r.name,
              r.versions.map((v: Json) => v.version).join(', ') || '-',
              r.default ?? '-',
              r.chosenBy.join(', ') || '-',
            ]),
          ),
        );
      }),
    );
  examples(runtimes, ['gasper runtimes']);
}
