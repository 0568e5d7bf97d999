import type { Command } from 'commander';
import type { ApiClient } from './api.ts';
import { shortDate } from './domain-format.ts';
import { byteSize, type Json, table } from './format.ts';
import { saveDownload } from './download.ts';
import { type CommandKit, enc, examples } from './kit.ts';

/**
 * Links or unlinks one database: `PATCH /apps/:app {databases}` sets the whole list, so the
 * app's list is read first and sent back with `database` added or removed.
 */
async function relink(
  client: ApiClient,
  app: string,
  change: (linked: string[]) => string[],
): Promise<Json | undefined> {
  const { app: doc } = await client.request<{ app: Json }>('GET', `/apps/${enc(app)}`);
  const linked: string[] = doc.databases ?? [];
  const next = change(linked);
  if (JSON.stringify(next) === JSON.stringify(linked)) return undefined;
  return client.request<Json>('PATCH', `/apps/${enc(app)}`, { databases: next });
}

/** `gasper databases …`: create, list, show, delete, link to apps, back up, restore, download. */
export function registerDatabaseCommands(program: Command, kit: CommandKit): void {
  const databases = program.command('databases').alias('db').description('databases as a service');
  const create = databases
    .command('create')
    .description('create a database (its password is shown once)')
    .argument('<name>')
    .requiredOption('--engine <engine>', 'postgres, mysql or redis')
    .option('--no-wait', 'return once the database is queued')
    .action(
      kit.action(async (client, name: string, o: Json) => {
        const body = await client.request('POST', '/databases', { name, engine: o.engine });
        // The password is shown once, in this answer: print it before waiting.
        if (!kit.json() && body.credentials)
          process.stdout.write(`connection (shown once): ${(body.credentials as Json).url}\n`);
        await kit.finish(client, body, o.wait, () => `${name} is ready`);
      }),
    );
  examples(create, ['gasper databases create shop-db --engine postgres', 'gasper db create cache --engine redis']);
  const list = databases
    .command('list')
    .alias('ls')
    .description('list your databases')
    .action(
      kit.action(async (client) => {
        const body = await client.request<{ databases: Json[] }>('GET', '/databases');
        kit.print(body, () =>
          body.databases.length
            ? table(
                ['NAME', 'ENGINE', 'STATUS', 'HOST', 'PORT'],
                body.databases.map((d) => [d.name, d.engine, d.status, d.host ?? '-', String(d.port ?? '-')]),
              )
            : 'no databases yet',
        );
      }),
    );
  examples(list, ['gasper databases list']);
  const show = databases
    .command('show')
    .description('show a database (never its password)')
    .argument('<name>')
    .action(
      kit.action(async (client, name: string) => {
        const body = await client.request<{ database: Json }>('GET', `/databases/${enc(name)}`);
        kit.print(body, () =>
          Object.entries(body.database)
            .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
            .join('\n'),
        );
      }),
    );
  examples(show, ['gasper databases show shop-db']);
  const remove = databases
    .command('delete')
    .alias('rm')
    .description('delete a database and its data (unlink it from its apps first)')
    .argument('<name>')
    .option('--no-wait', 'return once the deletion is queued')
    .action(
      kit.action(async (client, name: string, o: Json) => {
        const body = await client.request('DELETE', `/databases/${enc(name)}`);
        await kit.finish(client, body, o.wait, () => `${name} deleted`);
      }),
    );
  examples(remove, ['gasper databases delete shop-db']);

  const link = databases
    .command('link')
    .description('link a database to an app: the app gets DATABASE_URL (or REDIS_URL, or <NAME>_URL) and is redeployed')
    .argument('<database>')
    .argument('<app>')
    .option('--no-wait', 'return once the redeploy is queued')
    .action(
      kit.action(async (client, database: string, app: string, o: Json) => {
        const body = await relink(client, app, (linked) =>
          linked.includes(database) ? linked : [...linked, database],
        );
        if (!body) return kit.print({ app, database, linked: true }, () => `${database} is already linked to ${app}`);
        await kit.finish(client, body, o.wait, () => `${database} linked to ${app}; redeployed`);
      }),
    );
  examples(link, ['gasper databases link shop-db web', 'gasper db link cache web --no-wait']);
  const unlink = databases
    .command('unlink')
    .description('unlink a database from an app (its URL variable goes) and redeploy the app')
    .argument('<database>')
    .argument('<app>')
    .option('--no-wait', 'return once the redeploy is queued')
    .action(
      kit.action(async (client, database: string, app: string, o: Json) => {
        const body = await relink(client, app, (linked) => linked.filter((d) => d !== database));
        if (!body) throw new Error(`${database} is not linked to ${app}`);
        await kit.finish(client, body, o.wait, () => `${database} unlinked from ${app}; redeployed`);
      }),
    );
  examples(unlink, ['gasper databases unlink shop-db web']);

  const backup = databases
    .command('backup')
    .description('take a backup of a database now, following the job')
    .argument('<name>')
    .option('--no-wait', 'return once the backup is queued')
    .action(
      kit.action(async (client, name: string, o: Json) => {
        const body = await client.request<Json>('POST', `/databases/${enc(name)}/backups`);
        await kit.finish(
          client,
          body,
          o.wait,
          () => `backup ${body.backup.id} of ${name} taken (gasper databases download ${name} ${body.backup.id})`,
        );
      }),
    );
  examples(backup, ['gasper databases backup shop-db']);
  const backups = databases
    .command('backups')
    .description("list a database's backups, newest first")
    .argument('<name>')
    .action(
      kit.action(async (client, name: string) => {
        const body = await client.request<{ backups: Json[] }>('GET', `/databases/${enc(name)}/backups`);
        kit.print(body, () =>
          body.backups.length
            ? table(
                ['BACKUP', 'SIZE', 'CREATED'],
                body.backups.map((b) => [b.id, byteSize(b.size), shortDate(b.createdAt)]),
              )
            : `${name} has no backups yet (gasper databases backup ${name})`,
        );
      }),
    );
  examples(backups, ['gasper databases backups shop-db']);
  const restore = databases
    .command('restore')
    .description('restore a database from one of its backups (its current data is replaced)')
    .argument('<name>')
    .argument('<backup>', 'a backup id (see gasper databases backups)')
    .option('--no-wait', 'return once the restore is queued')
    .action(
      kit.action(async (client, name: string, backupId: string, o: Json) => {
        const body = await client.request<Json>('POST', `/databases/${enc(name)}/restore`, { backup: backupId });
        await kit.finish(client, body, o.wait, () => `${name} restored from ${backupId}`);
      }),
    );
  examples(restore, ['gasper databases restore shop-db b-20270301-120000-1a2b']);
  const download = databases
    .command('download')
    .description('download a backup to a file')
    .argument('<name>')
    .argument('<backup>', 'a backup id (see gasper databases backups)')
    .option('-o, --output <file>', 'where to write it (default: the name the API gives, here); - for stdout')
    .action(
      kit.action(async (client, name: string, backupId: string, o: Json) => {
        await saveDownload(
          kit,
          client,
          `/databases/${enc(name)}/backups/${enc(backupId)}`,
          o.output,
          `${name}-${backupId}.backup`,
        );
      }),
    );
  examples(download, [
    'gasper databases download shop-db b-20270301-120000-1a2b',
    'gasper db download shop-db <backup> -o - | gunzip | less',
  ]);
}
