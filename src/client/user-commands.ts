import type { Command } from 'commander';
import { shortDate } from './domain-format.ts';
import { type Json, table } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';

/** The quota options: the `quotas` field each sets, commander's name for it, its flag and help. */
const quotaOptions = [
  ['maxApps', 'maxApps', '--max-apps <n>', 'apps the user may own'],
  ['maxDatabases', 'maxDatabases', '--max-databases <n>', 'databases the user may own'],
  ['maxCpu', 'maxCpu', '--max-cpu <cpus>', 'CPUs over all instances of all their apps'],
  ['maxMemoryMb', 'maxMemory', '--max-memory <MiB>', 'memory over all instances of all their apps, in MiB'],
] as const;

/**
 * The user's quotas after the options: each given one set (a number) or lifted (`none`), the
 * others kept. Pure: test/client/user-format.unit.test.ts. A value that is not a number is left
 * as it is, for the API to refuse naming the field.
 */
export function quotasAfter(current: Json, options: Json): Json {
  const next: Json = { ...current };
  for (const [field, option] of quotaOptions) {
    const value = options[option];
    if (value === undefined) continue;
    if (value === 'none') delete next[field];
    else next[field] = Number.isFinite(Number(value)) && value !== '' ? Number(value) : value;
  }
  return next;
}

/** `apps ≤ 3, memory ≤ 2048 MiB`, or `none`. */
export function quotaWords(quotas: Json | undefined): string {
  const q = quotas ?? {};
  const words = [
    q.maxApps !== undefined && `apps ≤ ${q.maxApps}`,
    q.maxDatabases !== undefined && `databases ≤ ${q.maxDatabases}`,
    q.maxCpu !== undefined && `CPU ≤ ${q.maxCpu}`,
    q.maxMemoryMb !== undefined && `memory ≤ ${q.maxMemoryMb} MiB`,
  ].filter(Boolean);
  return words.length ? words.join(', ') : 'none';
}

/** What `gasper users create` prints: the first token, this once, and the login that uses it. */
export function userCreated(url: string, body: Json): string {
  return [
    `${body.user.name} created (${body.user.role}; quotas: ${quotaWords(body.user.quotas)}). Their first token, shown this once:`,
    `  ${body.token}`,
    `They sign in with: gasper login ${url} --token ${body.token}`,
  ].join('\n');
}

function addQuotaOptions(command: Command): Command {
  for (const [, , flag, description] of quotaOptions) command.option(flag, `${description} (none: no limit)`);
  return command;
}

/**
 * `gasper users …` (admins: create, list, update, delete; anyone: show themselves) and `gasper
 * tokens …` (one's own API tokens, or a user's for an admin), as `/users` and
 * `/users/:name/tokens`. Secrets are printed once, when made.
 */
export function registerUserCommands(program: Command, kit: CommandKit): void {
  const users = program.command('users').description('the people who use this platform (admins manage them)');
  const create = addQuotaOptions(
    users
      .command('create')
      .description('create a user (admins) and print their first token, shown this once')
      .argument('<name>')
      .option('--admin', 'an admin: sees and manages everything (default: a member, who sees only their own)'),
  ).action(
    kit.action(async (client, name: string, o: Json) => {
      const quotas = quotasAfter({}, o);
      const body = await client.request<Json>('POST', '/users', {
        name,
        role: o.admin ? 'admin' : 'member',
        ...(Object.keys(quotas).length ? { quotas } : {}),
      });
      kit.print(body, () => userCreated(body.apiUrl ?? client.url, body));
    }),
  );
  examples(create, ['gasper users create alice --max-apps 3 --max-memory 2048', 'gasper users create bob --admin']);

  const list = users
    .command('list')
    .alias('ls')
    .description('list the users (admins)')
    .action(
      kit.action(async (client) => {
        const body = await client.request<{ users: Json[] }>('GET', '/users');
        kit.print(body, () =>
          table(
            ['NAME', 'ROLE', 'QUOTAS', 'CREATED'],
            body.users.map((u) => [u.name, u.role, quotaWords(u.quotas), shortDate(u.createdAt)]),
          ),
        );
      }),
    );
  examples(list, ['gasper users list']);

  const show = users
    .command('show')
    .description('show a user (default: yourself)')
    .argument('[name]', 'a user name (admins)', 'me')
    .action(
      kit.action(async (client, name: string) => {
        const { user } = await client.request<{ user: Json }>('GET', `/users/${enc(name)}`);
        kit.print({ user }, () =>
          [
            `${user.name}  (${user.role})`,
            `  quotas:  ${quotaWords(user.quotas)}`,
            `  created: ${shortDate(user.createdAt)}`,
          ].join('\n'),
        );
      }),
    );
  examples(show, ['gasper users show', 'gasper users show alice']);

  const update = addQuotaOptions(
    users
      .command('update')
      .description("change a user's role or quotas (admins); quotas not named are kept")
      .argument('<name>')
      .option('--role <role>', 'admin or member'),
  ).action(
    kit.action(async (client, name: string, o: Json) => {
      if (o.role === undefined && quotaOptions.every(([, option]) => o[option] === undefined))
        throw new Error('give --role or a quota option (--max-apps, --max-databases, --max-cpu, --max-memory)');
      const { user } = await client.request<{ user: Json }>('GET', `/users/${enc(name)}`);
      const quotas = quotasAfter(user.quotas ?? {}, o);
      const body = await client.request<{ user: Json }>('PATCH', `/users/${enc(name)}`, {
        ...(o.role !== undefined ? { role: o.role } : {}),
        quotas,
      });
      kit.print(body, () => `${name}: ${body.user.role}; quotas: ${quotaWords(body.user.quotas)}`);
    }),
  );
  examples(update, ['gasper users update alice --max-apps 5 --max-cpu none', 'gasper users update bob --role member']);

  const remove = users
    .command('delete')
    .description('delete a user and revoke their tokens (admins); they must own no app or database')
    .argument('<name>')
    .action(
      kit.action(async (client, name: string) => {
        await client.request('DELETE', `/users/${enc(name)}`);
        kit.print({ deleted: name }, () => `${name} deleted; their tokens no longer work`);
      }),
    );
  examples(remove, ['gasper users delete alice']);

  const tokens = program.command('tokens').description("API tokens: your own, or a user's for an admin");
  const mint = tokens
    .command('create')
    .description('make an API token and print it, shown this once')
    .argument('<name>', 'what the token is for (ci, laptop, …)')
    .option('--scopes <scopes>', 'read, deploy, admin, comma-separated (default: read,deploy)')
    .option('--user <user>', "another user's token (admins)", 'me')
    .action(
      kit.action(async (client, name: string, o: Json) => {
        const scopes =
          o.scopes === undefined
            ? undefined
            : String(o.scopes)
                .split(',')
                .map((s) => s.trim());
        const body = await client.request<Json>('POST', `/users/${enc(o.user)}/tokens`, {
          name,
          ...(scopes ? { scopes } : {}),
        });
        kit.print(body, () =>
          [
            `${body.token.id} (${body.token.name}: ${body.token.scopes.join(', ')}) created for ${body.token.user}. The token, shown this once:`,
            `  ${body.secret}`,
          ].join('\n'),
        );
      }),
    );
  examples(mint, ['gasper tokens create ci --scopes read', 'gasper tokens create laptop --user alice']);

  const listTokens = tokens
    .command('list')
    .alias('ls')
    .description('list the tokens (never their values)')
    .option('--user <user>', "another user's tokens (admins)", 'me')
    .action(
      kit.action(async (client, o: Json) => {
        const body = await client.request<{ tokens: Json[] }>('GET', `/users/${enc(o.user)}/tokens`);
        kit.print(body, () =>
          table(
            ['ID', 'NAME', 'SCOPES', 'CREATED'],
            body.tokens.map((t) => [t.id, t.name, t.scopes.join(','), shortDate(t.createdAt)]),
          ),
        );
      }),
    );
  examples(listTokens, ['gasper tokens list', 'gasper tokens list --user alice']);

  const revoke = tokens
    .command('revoke')
    .description('revoke a token: it stops working at once')
    .argument('<id>', 'the token id (see gasper tokens list)')
    .option('--user <user>', "another user's token (admins)", 'me')
    .action(
      kit.action(async (client, id: string, o: Json) => {
        await client.request('DELETE', `/users/${enc(o.user)}/tokens/${enc(id)}`);
        kit.print({ revoked: id }, () => `${id} revoked`);
      }),
    );
  examples(revoke, ['gasper tokens revoke tok_0123456789abcdef']);
}
