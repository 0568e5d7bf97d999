import type { Command } from 'commander';
import { type ApiClient, ClientError } from './api.ts';
import { type Json, parseEnvPairs } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';
import { processCounts } from './app-details.ts';
import { redirectNote } from './domain-format.ts';
import { parseScaleArgs, unknownField } from './scale-args.ts';

/** What a PATCH answered, in words: the redeploy it started (followed), or that it applied at once. */
export async function patched(
  kit: CommandKit,
  client: ApiClient,
  app: string,
  body: Json,
  wait: boolean,
  what: string,
) {
  if (!body.redeploy) {
    const changed: string[] = body.changed ?? [];
    return kit.print(body, () =>
      changed.length ? `${app}: ${what} (applied, no redeploy needed)` : `${app}: nothing changed`,
    );
  }
  if (!kit.json() && wait) process.stderr.write(`${app}: ${what}; redeploying (job ${body.job?.id})\n`);
  await kit.finish(client, body, wait, () => `${app}: ${what}; redeployed`);
}

/**
 * The app's names a certificate covers, where the proxy redirects plain HTTP: its platform name
 * when the API announces it over https (the platform certificate), and its issued custom domains.
 */
async function namesWithCertificate(client: ApiClient, app: string, doc: Json): Promise<string[]> {
  const platform = typeof doc.url === 'string' && doc.url.startsWith('https://') ? [new URL(doc.url).hostname] : [];
  const { domains } = await client
    .request<{ domains: Json[] }>('GET', `/apps/${enc(app)}/domains`)
    .catch(() => ({ domains: [] as Json[] }));
  return [...platform, ...domains.filter((d) => d.status === 'issued').map((d) => String(d.domain))];
}

/**
 * `gasper env get|set|unset`, `gasper scale` and `gasper apps https`: the app settings a user
 * changes most, each a `PATCH /apps/:name` (a redeploy when it needs new containers, followed
 * like a deploy).
 */
export function registerEnvCommands(program: Command, apps: Command, kit: CommandKit): void {
  const env = program.command('env').description("an app's environment variables (a change redeploys the app)");
  const get = env
    .command('get')
    .alias('list')
    .description("list an app's variable names, or check one (values never leave the API: they are stored encrypted)")
    .argument('<app>')
    .argument('[name]', 'one variable: exit code 0 when it is set, 1 when not')
    .action(
      kit.action(async (client, app: string, name: string | undefined) => {
        const { app: doc } = await client.request<{ app: Json }>('GET', `/apps/${enc(app)}`);
        const names: string[] = doc.envKeys ?? [];
        if (name === undefined)
          return kit.print({ app, env: names }, () =>
            names.length ? names.join('\n') : `${app} has no env variables`,
          );
        const set = names.includes(name);
        if (!set) process.exitCode = 1;
        kit.print({ app, name, set }, () =>
          set ? `${name} is set (its value is stored encrypted and never shown)` : `${name} is not set on ${app}`,
        );
      }),
    );
  examples(get, ['gasper env get web', 'gasper env get web DATABASE_URL && echo linked']);
  const set = env
    .command('set')
    .description('set variables and redeploy the app, following the deploy')
    .argument('<app>')
    .argument('<pairs...>', 'KEY=VALUE (the value may hold `=`)')
    .option('--no-wait', 'return once the redeploy is queued')
    .action(
      kit.action(async (client, app: string, pairs: string[], o: Json) => {
        const values = parseEnvPairs(pairs);
        const body = await client.request<Json>('PATCH', `/apps/${enc(app)}`, { env: values });
        await patched(kit, client, app, body, o.wait, `set ${Object.keys(values).join(', ')}`);
      }),
    );
  examples(set, [
    'gasper env set web NODE_ENV=production LOG_LEVEL=info',
    "gasper env set web GREETING='hello world' --no-wait",
  ]);
  const unset = env
    .command('unset')
    .alias('rm')
    .description('remove variables and redeploy the app, following the deploy')
    .argument('<app>')
    .argument('<names...>')
    .option('--no-wait', 'return once the redeploy is queued')
    .action(
      kit.action(async (client, app: string, names: string[], o: Json) => {
        const body = await client.request<Json>('PATCH', `/apps/${enc(app)}`, {
          env: Object.fromEntries(names.map((n) => [n, null])),
        });
        await patched(kit, client, app, body, o.wait, `unset ${names.join(', ')}`);
      }),
    );
  examples(unset, ['gasper env unset web LOG_LEVEL']);

  const scale = program
    .command('scale')
    .description('show or change how many instances of each process type an app runs, and their size')
    .argument('<app>')
    .argument('[counts...]', 'TYPE=COUNT per process type (a bare COUNT is web=COUNT)')
    .option('--cpu <cpus>', 'CPUs per instance, e.g. 0.5', Number)
    .option('--memory <MiB>', 'memory per instance in MiB', Number)
    .option('--no-wait', 'return once the redeploy is queued')
    .action(
      kit.action(async (client, app: string, counts: string[], o: Json) => {
        const processes = parseScaleArgs(counts);
        const resources = {
          ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
          ...(o.memory !== undefined ? { memory: o.memory } : {}),
        };
        const sized = Object.keys(resources).length > 0;
        if (!counts.length && !sized) {
          const { app: doc } = await client.request<{ app: Json }>('GET', `/apps/${enc(app)}`);
          const r = doc.scale?.resources;
          return kit.print(
            { app, processes: Object.fromEntries(processCounts(doc)), resources: r },
            () =>
              `${processCounts(doc)
                .map(([t, n]) => `${t}=${n}`)
                .join(' ')}${r ? `  (each ${r.cpu} CPU, ${r.memory} MiB)` : ''}`,
          );
        }
        const what = [
          counts.length
            ? Object.entries(processes)
                .map(([t, n]) => `${t}=${n}`)
                .join(' ')
            : '',
          sized ? 'resized' : '',
        ]
          .filter(Boolean)
          .join(', ');
        const request = (body: Json) => client.request<Json>('PATCH', `/apps/${enc(app)}`, body);
        let body: Json;
        try {
          body = await request({ ...(counts.length ? { processes } : {}), ...(sized ? { resources } : {}) });
        } catch (err) {
          // An API from before process types: web=N is what `instances` always was.
          if (!(err instanceof ClientError && err.status === 400 && unknownField(err.fields, 'processes'))) throw err;
          const types = Object.keys(processes);
          if (types.some((t) => t !== 'web'))
            throw new Error(
              `this API has no process types yet (it refused "processes"): only web=COUNT can be set, as the app's instances`,
            );
          process.stderr.write("gasper: this API has no process types yet: web=COUNT sets the app's instances\n");
          body = await request({ instances: processes.web, ...(sized ? { resources } : {}) });
        }
        await patched(kit, client, app, body, o.wait, what);
      }),
    );
  examples(scale, ['gasper scale web', 'gasper scale web web=3 worker=1', 'gasper scale web 2 --memory 512 --cpu 0.5']);

  const https = apps
    .command('https')
    .description(
      'show or set how the app is served over HTTPS: redirect plain HTTP, send HSTS (applied at once, no redeploy)',
    )
    .argument('<app>')
    .argument('[mode]', 'allow (HTTP and HTTPS both served) or redirect (HTTP answered with 308 to https)')
    .option('--hsts', 'send Strict-Transport-Security on HTTPS answers')
    .option('--no-hsts', 'stop sending Strict-Transport-Security')
    .action(
      kit.action(async (client, app: string, mode: string | undefined, o: Json) => {
        const change = { ...(mode ? { https: mode } : {}), ...(o.hsts !== undefined ? { hsts: o.hsts } : {}) };
        const body = Object.keys(change).length
          ? await client.request<Json>('PATCH', `/apps/${enc(app)}`, change)
          : await client.request<Json>('GET', `/apps/${enc(app)}`);
        const doc = body.app as Json;
        const covered = doc.https === 'redirect' ? await namesWithCertificate(client, app, doc) : [];
        kit.print(
          { app, https: doc.https, hsts: doc.hsts, ...(body.changed ? { changed: body.changed } : {}) },
          () => `${app}: https ${doc.https}${redirectNote(doc.https, covered)}, HSTS ${doc.hsts ? 'on' : 'off'}`,
        );
      }),
    );
  examples(https, [
    'gasper apps https web',
    'gasper apps https web redirect --hsts',
    'gasper apps https web allow --no-hsts',
  ]);
}
