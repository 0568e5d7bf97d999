import type { Command } from 'commander';
import { ApiClient, ClientError } from './api.ts';
import { loadClientConfig, saveClientConfig } from './config.ts';
import { registerDomainCommands } from './domain-commands.ts';
import { registerTransferCommands } from './transfer-commands.ts';
import { fieldLines, type Json, parseEnvPairs, progressBar, shortCommit, table } from './format.ts';

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
    const bar = progressBar(job.progress?.percent ?? 0, job.progress?.step ?? job.state);
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

function appDetails(app: Json): string {
  const lines = [
    `${app.name}  (${app.status})`,
    `  url:       ${app.url}`,
    `  repo:      ${app.repo?.url}${app.repo?.branch ? ` (${app.repo.branch})` : ''}`,
    `  runtime:   ${app.runtime ?? `(none: builder ${app.builder})`}`,
    `  release:   ${app.release ?? '-'}  commit ${shortCommit(app.commit)}`,
    `  owner:     ${app.owner ?? '-'}`,
    `  env:       ${(app.envKeys ?? []).join(', ') || '-'}`,
  ];
  for (const i of app.instances ?? []) lines.push(`  instance:  ${i.node} ${i.host}:${i.port} ${i.container}`);
  if (app.lastError) lines.push(`  last error: ${String(app.lastError).split('\n').join('\n    ')}`);
  if (app.lastJob) lines.push(`  last job:  ${app.lastJob.id}`);
  return lines.join('\n');
}

/** After a request that started a job: wait for it (unless --no-wait) and report. */
async function finish(
  client: ApiClient,
  out: Output,
  body: Json,
  wait: boolean,
  done: (job: Json) => string,
): Promise<void> {
  if (!wait || !body.job)
    return print(out, body, () => `job ${body.job?.id ?? '-'} queued (gasper jobs wait ${body.job?.id ?? ''})`);
  const job = await waitForJob(client, body.job.id, { quiet: out.json });
  print(out, { ...body, job }, () => (job.state === 'completed' ? done(job) : `failed: ${job.error}`));
}

/** The client commands: `gasper login`, `gasper apps …`, `gasper jobs …`. */
export function registerClientCommands(program: Command): void {
  const out = (): Output => ({ json: program.opts().json === true });
  program.option('--json', 'print JSON instead of text');

  program
    .command('login')
    .description('save the API URL and a token for the commands below')
    .argument('<url>', 'the API, e.g. http://127.0.0.1:3000')
    .requiredOption('--token <token>', 'an API token (gsp_...)')
    .action(async (url: string, opts: { token: string }) => {
      try {
        const client = new ApiClient(url.replace(/\/+$/, ''), opts.token);
        const { user } = await client.request<{ user: Json }>('GET', '/users/me');
        const file = await saveClientConfig({ url: client.url, token: opts.token });
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

  const apps = program.command('apps').description('deploy and manage apps');
  apps
    .command('create')
    .argument('<name>')
    .requiredOption('--repo <url>', 'git repository URL')
    .option('--runtime <runtime>', 'node, python, static, … (not needed with a Dockerfile)')
    .option('--builder <builder>', 'auto (default: the Dockerfile if there is one), dockerfile or runtime')
    .option('--dockerfile <path>', 'the Dockerfile, relative to the repository root')
    .option('--context <path>', 'the Docker build context, relative to the repository root')
    .option('--build-arg <NAME>', 'env variable passed to the Docker build (repeatable)', collect)
    .option('--branch <branch>')
    .option('--build <command>', 'build command (repeatable, run in order)', collect)
    .option('--run <command>', 'run command')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .option('--port <port>', 'port the app listens on', (v) => Number(v))
    .option('--no-wait', 'return once the deploy is queued')
    .action(
      action(async (client, name: string, o: Json) => {
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
          repo: { url: o.repo, ...(o.branch ? { branch: o.branch } : {}) },
          ...(o.build ? { build: o.build } : {}),
          ...(o.run ? { run: o.run } : {}),
          ...(o.env ? { env: parseEnvPairs(o.env) } : {}),
          ...(o.port ? { port: o.port } : {}),
        });
        await finish(client, out(), body, o.wait, () => `${name} is live at ${(body.app as Json).url}`);
      }),
    );
  apps
    .command('list')
    .alias('ls')
    .action(
      action(async (client) => {
        const body = await client.request<{ apps: Json[] }>('GET', '/apps');
        print(out(), body, () => (body.apps.length ? appRows(body.apps) : 'no apps yet'));
      }),
    );
  apps
    .command('show')
    .argument('<name>')
    .action(
      action(async (client, name: string) => {
        const body = await client.request<{ app: Json }>('GET', `/apps/${encodeURIComponent(name)}`);
        print(out(), body, () => appDetails(body.app));
      }),
    );
  for (const [verb, what] of [
    ['restart', 'restarted'],
    ['rebuild', 'rebuilt'],
    ['stop', 'stopped'],
    ['start', 'started'],
  ] as const) {
    apps
      .command(verb)
      .argument('<name>')
      .option('--no-wait')
      .action(
        action(async (client, name: string, o: Json) => {
          const body = await client.request('POST', `/apps/${encodeURIComponent(name)}/${verb}`);
          await finish(client, out(), body, o.wait, () => `${name} ${what}`);
        }),
      );
  }
  apps
    .command('rollback')
    .argument('<name>')
    .option('--release <id>', 'release to go back to (default: the previous)')
    .option('--no-wait')
    .action(
      action(async (client, name: string, o: Json) => {
        const body = await client.request(
          'POST',
          `/apps/${encodeURIComponent(name)}/rollback`,
          o.release ? { release: o.release } : {},
        );
        await finish(client, out(), body, o.wait, () => `${name} rolled back`);
      }),
    );
  apps
    .command('delete')
    .alias('rm')
    .argument('<name>')
    .option('--no-wait')
    .action(
      action(async (client, name: string, o: Json) => {
        const body = await client.request('DELETE', `/apps/${encodeURIComponent(name)}`);
        await finish(client, out(), body, o.wait, () => `${name} deleted`);
      }),
    );
  apps
    .command('logs')
    .argument('<name>')
    .option('--tail <n>', 'lines to show', (v) => Number(v), 100)
    .option('-f, --follow', 'keep printing new lines')
    .action(
      action(async (client, name: string, o: Json) => {
        const query = `tail=${o.tail}${o.follow ? '&follow=1' : ''}`;
        await printLogs(client, `/apps/${encodeURIComponent(name)}/logs?${query}`, out());
      }),
    );

  const jobs = program.command('jobs').description('follow the work the API queued');
  jobs
    .command('show')
    .argument('<id>')
    .action(
      action(async (client, id: string) => {
        const body = await client.request<{ job: Json }>('GET', `/jobs/${encodeURIComponent(id)}`);
        print(out(), body, () =>
          [
            `${body.job.id}  ${body.job.type}  ${body.job.state}`,
            progressBar(body.job.progress.percent, body.job.progress.step),
            ...body.job.log,
          ].join('\n'),
        );
      }),
    );
  jobs
    .command('wait')
    .argument('<id>')
    .description('wait for a job to end, with a progress bar; exit code 1 if it failed')
    .action(
      action(async (client, id: string) => {
        const job = await waitForJob(client, id, { quiet: out().json });
        print(out(), { job }, () => (job.state === 'completed' ? `${id} completed` : `${id} failed: ${job.error}`));
      }),
    );

  registerDomainCommands(program, {
    action,
    print: (json, human) => print(out(), json, human),
    json: () => out().json,
  });

  const databases = program.command('databases').alias('db').description('databases as a service');
  databases
    .command('create')
    .argument('<name>')
    .requiredOption('--engine <engine>', 'postgres, mysql or redis')
    .option('--no-wait')
    .action(
      action(async (client, name: string, o: Json) => {
        const body = await client.request('POST', '/databases', { name, engine: o.engine });
        // The password is shown once, in this answer: print it before waiting.
        if (!out().json && body.credentials)
          process.stdout.write(`connection (shown once): ${(body.credentials as Json).url}\n`);
        await finish(client, out(), body, o.wait, () => `${name} is ready`);
      }),
    );
  databases
    .command('list')
    .alias('ls')
    .action(
      action(async (client) => {
        const body = await client.request<{ databases: Json[] }>('GET', '/databases');
        print(out(), body, () =>
          table(
            ['NAME', 'ENGINE', 'STATUS', 'HOST', 'PORT'],
            body.databases.map((d) => [d.name, d.engine, d.status, d.host ?? '-', String(d.port ?? '-')]),
          ),
        );
      }),
    );
  databases
    .command('show')
    .argument('<name>')
    .action(
      action(async (client, name: string) => {
        const body = await client.request<{ database: Json }>('GET', `/databases/${encodeURIComponent(name)}`);
        print(out(), body, () =>
          Object.entries(body.database)
            .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
            .join('\n'),
        );
      }),
    );
  databases
    .command('delete')
    .alias('rm')
    .argument('<name>')
    .option('--no-wait')
    .action(
      action(async (client, name: string, o: Json) => {
        const body = await client.request('DELETE', `/databases/${encodeURIComponent(name)}`);
        await finish(client, out(), body, o.wait, () => `${name} deleted`);
      }),
    );

  registerTransferCommands(program, {
    action,
    print: (json, human) => print(out(), json, human),
    json: () => out().json,
  });
}

/**
 * Log lines come as one JSON document (`{lines}`, a tail) or as server-sent events whose `data:`
 * is one line each (a follow, ended by `event: end`).
 */
async function printLogs(client: ApiClient, path: string, out: Output): Promise<void> {
  let pending = '';
  let event = 'message';
  let ended = false;
  const print = (l: Json) =>
    process.stdout.write(
      out.json ? `${JSON.stringify(l)}\n` : `${l.timestamp ?? ''} ${l.instance ?? ''} ${l.text ?? ''}\n`,
    );
  const handle = (raw: string) => {
    if (raw.startsWith('event:')) return void (event = raw.slice(6).trim());
    const line = raw.startsWith('data:') ? raw.slice(5).trim() : raw.trim();
    if (!line || raw.startsWith(':') || raw.startsWith('id:')) return;
    let entry: Json;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (event === 'end') {
      process.stderr.write(`gasper: log stream ended (${entry.reason ?? 'by the server'})\n`);
      ended = true;
    } else if (Array.isArray(entry.lines)) entry.lines.forEach(print);
    else print(entry);
  };
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  try {
    for await (const chunk of client.stream(path, abort.signal)) {
      const parts = (pending + chunk).split('\n');
      pending = parts.pop() ?? '';
      parts.forEach(handle);
      if (ended) return;
    }
    handle(pending);
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
}
