import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { type ApiClient, ClientError } from './api.ts';
import { shortDate } from './domain-format.ts';
import { type Json, shortCommit, table } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';
import { unknownField } from './scale-args.ts';

/**
 * Who asked for a release and why: the first cause, then the later ones (a change coalesced into
 * the same deploy, a rollback to it) with who asked for each. Pure: test/client/format.unit.test.ts.
 */
export function causeWords(causes: Json[] | undefined): { by: string; why: string } {
  const [first, ...later] = causes ?? [];
  if (!first) return { by: '-', why: '' };
  return { by: first.by, why: [first.reason, ...later.map((c) => `${c.reason} (${c.by})`)].join('; ') };
}

/** `gasper releases`: newest first, the serving one marked, who asked for each and why. Pure. */
export function releaseRows(releases: Json[]): string {
  return table(
    ['', 'RELEASE', 'STATUS', 'COMMIT', 'CREATED', 'BY', 'WHY', 'ON DISK', 'ERROR'],
    releases.map((r) => {
      const { by, why } = causeWords(r.causes);
      return [
        r.current ? '*' : ' ',
        r.id,
        r.status,
        shortCommit(r.commit),
        shortDate(r.timings?.createdAt),
        by,
        why,
        r.onDisk ? 'yes' : 'no',
        r.error ? String(r.error).split('\n')[0]! : '',
      ];
    }),
  );
}

/**
 * Log lines come as one JSON document (`{lines}`, a tail) or as server-sent events whose `data:`
 * is one line each (a follow, ended by `event: end`).
 */
export async function printLogs(client: ApiClient, path: string, json: boolean): Promise<number> {
  let pending = '';
  let event = 'message';
  let ended = false;
  let printed = 0;
  const print = (l: Json) => {
    printed++;
    process.stdout.write(
      json ? `${JSON.stringify(l)}\n` : `${l.timestamp ?? ''} ${l.instance ?? ''} ${l.text ?? ''}\n`,
    );
  };
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
      if (ended) return printed;
    }
    handle(pending);
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
  return printed;
}

/** The command that opens a URL in the desktop's browser, if this system has one. */
function opener(): [string, string[]] | undefined {
  if (process.platform === 'darwin') return ['open', []];
  if (process.platform === 'win32') return ['cmd', ['/c', 'start', '""']];
  return process.env.DISPLAY || process.env.WAYLAND_DISPLAY ? ['xdg-open', []] : undefined;
}

/**
 * After a rollback, which variables it brought back or took away (the release's env is restored
 * with its code): `before` and `after` are the app's env names. Pure: test/client/format.unit.test.ts.
 */
export function rollbackEnvNote(before: readonly string[], after: readonly string[]): string {
  const removed = before.filter((k) => !after.includes(k));
  const added = after.filter((k) => !before.includes(k));
  const changes = [
    ...(removed.length ? [`${removed.join(', ')} no longer set`] : []),
    ...(added.length ? [`${added.join(', ')} set again`] : []),
  ];
  return ` (its code and env as they were then${changes.length ? `: ${changes.join('; ')}` : ''})`;
}

/**
 * `gasper rollback` and `gasper apps rollback`: `POST /apps/:name/rollback`, followed. Like
 * Heroku's, a rollback brings back the release's env with its code: the output says which
 * variables that changed.
 */
export async function rollBack(
  kit: CommandKit,
  client: ApiClient,
  app: string,
  release: string | undefined,
  wait: boolean,
): Promise<void> {
  const envKeys = async () =>
    ((await client.request<{ app: Json }>('GET', `/apps/${enc(app)}`)).app.envKeys ?? []) as string[];
  const before = await envKeys();
  const body = await client.request<Json>('POST', `/apps/${enc(app)}/rollback`, release ? { release } : {});
  await kit.finish(
    client,
    body,
    wait,
    async () => `${app} rolled back to ${body.release}${rollbackEnvNote(before, await envKeys())}`,
  );
}

/** `gasper releases`, `gasper rollback`, `gasper logs` (and `apps logs`), `gasper open`. */
export function registerReleaseCommands(program: Command, apps: Command, kit: CommandKit): void {
  const releases = program
    .command('releases')
    .description("list an app's releases (newest first, * is serving), or show one with its build log")
    .argument('<app>')
    .argument('[release]', 'one release, e.g. r000003: its settings and build log')
    .action(
      kit.action(async (client, app: string, release: string | undefined) => {
        if (release) {
          const body = await client.request<{ release: Json }>('GET', `/apps/${enc(app)}/releases/${enc(release)}`);
          const r = body.release;
          return kit.print(body, () =>
            [
              `${r.id}  ${r.status}${r.current ? ' (serving)' : ''}  commit ${shortCommit(r.commit)}  ${shortDate(r.timings?.createdAt)}`,
              `  run:       ${r.config?.run ?? '-'}`,
              `  instances: ${r.config?.instances ?? '-'}`,
              `  env:       ${Object.keys(r.config?.env ?? {}).join(', ') || '-'}`,
              ...(r.error ? [`  error:     ${r.error}`] : []),
              '',
              ...(r.buildLog ?? []),
            ].join('\n'),
          );
        }
        const body = await client.request<{ releases: Json[] }>('GET', `/apps/${enc(app)}/releases`);
        kit.print(body, () => (body.releases.length ? releaseRows(body.releases) : `${app} has no releases yet`));
      }),
    );
  examples(releases, ['gasper releases web', 'gasper releases web r000003']);

  const rollback = program
    .command('rollback')
    .description('go back to a release (default: the previous one), without cloning or building')
    .argument('<app>')
    .argument('[release]', 'the release to serve again, e.g. r000003 (see gasper releases)')
    .option('--no-wait', 'return once the rollback is queued')
    .action(
      kit.action((client, app: string, release: string | undefined, o: Json) =>
        rollBack(kit, client, app, release, o.wait),
      ),
    );
  examples(rollback, ['gasper rollback web', 'gasper rollback web r000003']);

  const logsAction = kit.action(async (client, app: string, o: Json) => {
    const query = new URLSearchParams({ tail: String(o.tail) });
    if (o.follow) query.set('follow', '1');
    if (o.process) query.set('process', o.process);
    try {
      const printed = await printLogs(client, `/apps/${enc(app)}/logs?${query}`, kit.json());
      // An empty tail is not an error, but silence reads like one: say what it means.
      if (!printed && !o.follow && !kit.json())
        process.stderr.write(
          `gasper: ${app}${o.process ? ` (${o.process})` : ''} has printed nothing yet to stdout or stderr\n`,
        );
    } catch (err) {
      if (err instanceof ClientError && err.status === 400 && unknownField(err.fields, 'process'))
        throw new Error('this API does not filter logs by process type yet: run without --process');
      throw err;
    }
  });
  for (const [parent, prefix] of [
    [program, 'gasper logs'],
    [apps, 'gasper apps logs'],
  ] as const) {
    const logs = parent
      .command('logs')
      .description("print an app's output (a tail, or follow it live)")
      .argument('<app>')
      .option('--tail <n>', 'lines to show', (v) => Number(v), 100)
      .option('-f, --follow', 'keep printing new lines')
      .option('-p, --process <type>', 'only this process type, e.g. web or worker')
      .action(logsAction);
    examples(logs, [`${prefix} web`, `${prefix} web --tail 500`, `${prefix} web -f --process worker`]);
  }

  const open = program
    .command('open')
    .description("print the app's URL and open it in the browser (when there is a desktop)")
    .argument('<app>')
    .option('--print', 'only print the URL')
    .action(
      kit.action(async (client, app: string, o: Json) => {
        const { app: doc } = await client.request<{ app: Json }>('GET', `/apps/${enc(app)}`);
        kit.print({ url: doc.url }, () => doc.url);
        const command = o.print || kit.json() || !process.stdout.isTTY ? undefined : opener();
        if (command) {
          const child = spawn(command[0], [...command[1], doc.url], { stdio: 'ignore', detached: true });
          child.on('error', () => {});
          child.unref();
        }
      }),
    );
  examples(open, ['gasper open web', 'curl "$(gasper open web --print)"']);
}
