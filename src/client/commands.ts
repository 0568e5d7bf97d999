import type { Command } from 'commander';
import { ApiClient, ClientError } from './api.ts';
import { loadClientConfig, saveClientConfig } from './config.ts';
import { appDetails } from './app-details.ts';
import { registerCompletionCommand } from './completion.ts';
import { registerDatabaseCommands } from './database-commands.ts';
import { registerDomainCommands } from './domain-commands.ts';
import { registerTransferCommands } from './transfer-commands.ts';
import { registerWebhookCommands } from './webhook-commands.ts';
import { registerUserCommands } from './user-commands.ts';
import { registerNodeCommands } from './node-commands.ts';
import { registerScheduleCommands } from './schedule-commands.ts';
import { registerVolumeCommands } from './volume-commands.ts';
import { registerRunCommand } from './run-command.ts';
import { registerEnvCommands } from './env-commands.ts';
import { registerAppUpdateCommand, registerRuntimesCommand } from './app-update-command.ts';
import { credentialOptions, registerRepoCommand, tokenUserHelp } from './repo-command.ts';
import {
  cloneFailureHint,
  fieldLines,
  jobStateWords,
  type Json,
  parseEnvPairs,
  progressBar,
  shortCommit,
  table,
} from './format.ts';
import { registerKeyCommands } from './key-commands.ts';
import { parseSshAddress } from './ssh-endpoint.ts';
import { type CommandKit, enc, examples } from './kit.ts';
import { registerReleaseCommands, rollBack } from './release-commands.ts';

interface Output {
  json: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Runs a client action: API errors become a message (with the fields named) and exit code 1. */
function action<A extends unknown[]>(run: (client: ApiClient, ...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      const config = await loadClientConfig();
      await run(new ApiClient(config.url, config.token), ...args);
    } catch (err) {
      // A validation error's message lists its fields on one line; a line per field reads better.
      const fields = err instanceof ClientError ? fieldLines(err.fields) : [];
      const lines = fields.length
        ? [
            `gasper: ${err instanceof ClientError && err.code === 'VALIDATION_FAILED' ? 'invalid request:' : (err as Error).message}`,
            ...fields,
          ]
        : [`gasper: ${(err as Error).message}`];
      process.stderr.write(`${lines.join('\n')}\n`);
      process.exitCode = 1;
    }
  };
}

function print(out: Output, json: unknown, human: () => string): void {
  process.stdout.write(`${out.json ? JSON.stringify(json, null, 2) : human()}\n`);
}

/**
 * Polls a job until it ends, drawing a progress bar on a terminal (one line per step
 * otherwise). Resolves to the final job; a failed job sets exit code 1.
 */
export async function waitForJob(
  client: ApiClient,
  id: string,
  options: { quiet?: boolean; intervalMs?: number } = {},
): Promise<Json> {
  const tty = process.stderr.isTTY === true;
  let lastStep = '';
  for (;;) {
    const { job } = await client.request<{ job: Json }>('GET', `/jobs/${id}`);
    const bar = progressBar(job.progress?.percent ?? 0, job.progress?.step ?? jobStateWords(job.state));
    if (!options.quiet) {
      if (tty) process.stderr.write(`\r\x1b[2K${bar}`);
      else if (job.progress?.step !== lastStep) process.stderr.write(`${bar}\n`);
    }
    lastStep = job.progress?.step;
    if (job.state === 'completed' || job.state === 'failed') {
      if (tty && !options.quiet) process.stderr.write('\n');
      if (job.state === 'failed') process.exitCode = 1;
      return job;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 300));
  }
}

function appRows(apps: Json[]): string {
  return table(
    ['NAME', 'STATUS', 'URL', 'RUNTIME', 'COMMIT', 'INSTANCES'],
    apps.map((a) => [a.name, a.status, a.url, a.runtime, shortCommit(a.commit), String(a.instances?.length ?? 0)]),
  );
}

/** After a request that started a job: wait for it (unless --no-wait) and report. */
async function finish(
  client: ApiClient,
  out: Output,
  body: Json,
  wait: boolean,
  done: (job: Json) => string | Promise<string>,
): Promise<void> {
  if (!wait || !body.job)
    return print(out, body, () => `job ${body.job?.id ?? '-'} queued (gasper jobs wait ${body.job?.id ?? ''})`);
  const job = await waitForJob(client, body.job.id, { quiet: out.json });
  const hint =
    job.state === 'failed' && body.app?.name ? cloneFailureHint(body.app.name, String(job.error)) : undefined;
  // `done` may ask the API what changed; with --json only the job is printed, so it is not asked.
  const line =
    job.state !== 'completed' ? `failed: ${job.error}${hint ? `\n${hint}` : ''}` : out.json ? '' : await done(job);
  print(out, { ...body, job }, () => line);
}

/**
 * The client commands: `gasper login`, `gasper apps …`, `gasper jobs …`, and, from their own
 * files, domains, env and scale, releases and logs, databases, SSH keys and completion.
 */
export function registerClientCommands(program: Command): void {
  const out = (): Output => ({ json: program.opts().json === true });
  program.option('--json', 'print JSON instead of text');
  const kit: CommandKit = {
    action,
    print: (json, human) => print(out(), json, human),
    json: () => out().json,
    finish: (client, body, wait, done) => finish(client, out(), body, wait, done),
  };

  const login = program
    .command('login')
    .description('save the API URL and a token for the commands below')
    .argument('<url>', 'the API, e.g. http://127.0.0.1:3000')
    .requiredOption('--token <token>', 'an API token (gsp_...)')
    .option('--ssh <host[:port]>', "the SSH service, for `gasper run -it` (default: the API's host, port 2222)")
    .action(async (url: string, opts: { token: string; ssh?: string }) => {
      try {
        if (opts.ssh && !parseSshAddress(opts.ssh))
          throw new Error(`--ssh: "${opts.ssh}" is not an SSH endpoint (host or host:port)`);
        const client = new ApiClient(url.replace(/\/+$/, ''), opts.token);
        const { user } = await client.request<{ user: Json }>('GET', '/users/me');
        const file = await saveClientConfig({
          url: client.url,
          token: opts.token,
          ...(opts.ssh ? { ssh: opts.ssh } : {}),
        });
        print(
          out(),
          { user, config: file },
          () => `logged in to ${client.url} as ${user.name} (${user.role}); saved in ${file}`,
        );
      } catch (err) {
        process.stderr.write(`gasper: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
  examples(login, [
    'gasper login https://gasper.example.com --token gsp_…',
    'gasper login https://gasper.example.com --token gsp_… --ssh ssh.example.com:2222   # for gasper run -it',
    'GASPER_URL=http://127.0.0.1:3000 GASPER_TOKEN=gsp_… gasper apps list   # no saved login',
  ]);

  const apps = program.command('apps').description('deploy and manage apps');
  const create = apps
    .command('create')
    .description('create an app from a git repository and follow its first deploy')
    .argument('<name>')
    .requiredOption('--repo <url>', 'git repository URL')
    .option('--runtime <runtime>', 'node, python, static, … (not needed with a Dockerfile)')
    .option('--builder <builder>', 'auto (default: the Dockerfile if there is one), dockerfile or runtime')
    .option('--dockerfile <path>', 'the Dockerfile, relative to the repository root')
    .option('--context <path>', 'the Docker build context, relative to the repository root')
    .option('--build-arg <NAME>', 'env variable passed to the Docker build (repeatable)', collect)
    .option('--branch <branch>', 'the branch to deploy (default: the repository default)')
    .option('--path <folder>', 'the folder of the repository the app is (monorepos, dist/)')
    .option(
      '--token-stdin',
      'read an access token for a private https repository from stdin (kept sealed, never shown)',
    )
    .option('--username <name>', tokenUserHelp)
    .option('--build <command>', 'build command (repeatable, run in order)', collect)
    .option('--run <command>', 'run command')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .option('--port <port>', 'port the app listens on', (v) => Number(v))
    .option('--instances <n>', 'how many instances to run', (v) => Number(v))
    .option('--https <mode>', 'allow (default) or redirect: plain HTTP answered with a redirect to https')
    .option('--hsts', 'send Strict-Transport-Security on HTTPS answers')
    .option('--no-wait', 'return once the deploy is queued')
    .action(
      action(async (client, name: string, o: Json) => {
        const credentials = await credentialOptions(o);
        const body = await client.request('POST', '/apps', {
          name,
          ...(o.runtime ? { runtime: o.runtime } : {}),
          ...(o.builder ? { builder: o.builder } : {}),
          ...(o.dockerfile || o.context
            ? {
                dockerfile: {
                  ...(o.dockerfile ? { path: o.dockerfile } : {}),
                  ...(o.context ? { context: o.context } : {}),
                },
              }
            : {}),
          ...(o.buildArg ? { buildArgs: o.buildArg } : {}),
          repo: {
            url: o.repo,
            ...(o.branch ? { branch: o.branch } : {}),
            ...(o.path ? { path: o.path } : {}),
            ...credentials,
          },
          ...(o.build ? { build: o.build } : {}),
          ...(o.run ? { run: o.run } : {}),
          ...(o.env ? { env: parseEnvPairs(o.env) } : {}),
          ...(o.port ? { port: o.port } : {}),
          ...(o.instances ? { instances: o.instances } : {}),
          ...(o.https ? { https: o.https } : {}),
          ...(o.hsts ? { hsts: true } : {}),
        });
        await finish(client, out(), body, o.wait, () => `${name} is live at ${(body.app as Json).url}`);
      }),
    );
  examples(create, [
    'gasper apps create web --repo https://github.com/me/web.git --runtime node',
    'gasper apps create api --repo https://github.com/me/api.git --env NODE_ENV=production --instances 2',
    'gasper apps create site --repo https://github.com/me/site.git --https redirect --hsts --no-wait',
    'gasper apps create private --repo https://github.com/me/private.git --token-stdin < token.txt',
  ]);
  const list = apps
    .command('list')
    .alias('ls')
    .description('list your apps with their status, URL and instances')
    .action(
      action(async (client) => {
        const body = await client.request<{ apps: Json[] }>('GET', '/apps');
        print(out(), body, () => (body.apps.length ? appRows(body.apps) : 'no apps yet'));
      }),
    );
  examples(list, ['gasper apps list', 'gasper --json apps list']);
  const show = apps
    .command('show')
    .description('show an app: its settings, linked databases, domains, processes and last deploy')
    .argument('<name>')
    .action(
      action(async (client, name: string) => {
        const body = await client.request<{ app: Json }>('GET', `/apps/${enc(name)}`);
        // What the app document only names: its domains and its releases (the last deploy).
        const [domains, releases] = await Promise.all([
          client.request<{ domains: Json[] }>('GET', `/apps/${enc(name)}/domains`).catch(() => undefined),
          client.request<{ releases: Json[] }>('GET', `/apps/${enc(name)}/releases`).catch(() => undefined),
        ]);
        const details = { ...body, domains: domains?.domains ?? [], lastDeploy: releases?.releases[0] ?? null };
        print(out(), details, () => appDetails(body.app, details.domains, details.lastDeploy));
      }),
    );
  examples(show, ['gasper apps show web', 'gasper --json apps show web']);
  for (const [verb, what, description] of [
    ['restart', 'restarted', 'restart the running release (no build)'],
    ['rebuild', 'rebuilt', 'clone the branch head and build and deploy a new release'],
    ['stop', 'stopped', "stop the app's instances (its settings and releases are kept)"],
    ['start', 'started', 'start a stopped app again'],
  ] as const) {
    const command = apps
      .command(verb)
      .description(description)
      .argument('<name>')
      .option('--no-wait', 'return once the job is queued');
    // Dependencies installed from nothing, a Dockerfile built without its layer cache.
    if (verb === 'rebuild') command.option('--no-cache', 'reuse no build cache: install dependencies from nothing');
    command.action(
      action(async (client, name: string, o: Json) => {
        const body = await client.request(
          'POST',
          `/apps/${enc(name)}/${verb}`,
          o.cache === false ? { cache: false } : undefined,
        );
        await finish(
          client,
          out(),
          body,
          o.wait,
          () => `${name} ${what}${o.cache === false ? ' without the build cache' : ''}`,
        );
      }),
    );
    examples(command, [
      `gasper apps ${verb} web`,
      `gasper apps ${verb} web --no-wait`,
      ...(verb === 'rebuild' ? ['gasper apps rebuild web --no-cache'] : []),
    ]);
  }
  const rollback = apps
    .command('rollback')
    .description('go back to the previous release (or --release), without building')
    .argument('<name>')
    .option('--release <id>', 'release to go back to (default: the previous)')
    .option('--no-wait', 'return once the job is queued')
    .action(action((client, name: string, o: Json) => rollBack(kit, client, name, o.release, o.wait)));
  examples(rollback, [
    'gasper apps rollback web',
    'gasper apps rollback web --release r000003',
    'gasper rollback web r000003',
  ]);
  const remove = apps
    .command('delete')
    .alias('rm')
    .description('delete an app: its containers, releases, domains and routes')
    .argument('<name>')
    .option('--no-wait', 'return once the job is queued')
    .action(
      action(async (client, name: string, o: Json) => {
        const body = await client.request('DELETE', `/apps/${enc(name)}`);
        await finish(client, out(), body, o.wait, () => `${name} deleted`);
      }),
    );
  examples(remove, ['gasper apps delete web']);

  const jobs = program.command('jobs').description('follow the work the API queued');
  const jobShow = jobs
    .command('show')
    .description("show a job's state, progress and log")
    .argument('<id>')
    .action(
      action(async (client, id: string) => {
        const body = await client.request<{ job: Json }>('GET', `/jobs/${enc(id)}`);
        print(out(), body, () =>
          [
            `${body.job.id}  ${body.job.type}  ${body.job.state}`,
            progressBar(body.job.progress.percent, body.job.progress.step),
            ...body.job.log,
          ].join('\n'),
        );
      }),
    );
  examples(jobShow, ['gasper jobs show deploy-web-1a2b3c-r000002']);
  const jobWait = jobs
    .command('wait')
    .argument('<id>')
    .description('wait for a job to end, with a progress bar; exit code 1 if it failed')
    .action(
      action(async (client, id: string) => {
        const job = await waitForJob(client, id, { quiet: out().json });
        print(out(), { job }, () => (job.state === 'completed' ? `${id} completed` : `${id} failed: ${job.error}`));
      }),
    );
  examples(jobWait, ['gasper jobs wait deploy-web-1a2b3c-r000002']);

  registerEnvCommands(program, apps, kit);
  registerRepoCommand(apps, kit);
  registerAppUpdateCommand(apps, kit);
  registerRuntimesCommand(program, kit);
  registerReleaseCommands(program, apps, kit);
  registerDomainCommands(program, kit);
  registerDatabaseCommands(program, kit);
  registerKeyCommands(program, kit);
  registerWebhookCommands(program, kit);
  registerUserCommands(program, kit);
  registerNodeCommands(program, kit);
  registerScheduleCommands(program, kit);
  registerVolumeCommands(program, kit);
  registerTransferCommands(program, kit);
  registerRunCommand(program);
  registerCompletionCommand(program);
}
