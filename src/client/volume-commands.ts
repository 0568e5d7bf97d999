import type { Command } from 'commander';
import type { ApiClient } from './api.ts';
import { shortDate } from './domain-format.ts';
import { saveDownload } from './download.ts';
import { patched } from './env-commands.ts';
import { byteSize, type Json, table } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';

/** A volume as `PATCH {"volumes"}` takes it (the API's view adds what it uses). */
interface VolumeSpec {
  name: string;
  path: string;
  size?: number;
}

/**
 * The app's volume list with `volume` added, or its path and size changed; `PATCH` replaces the
 * whole list, so the others are sent back as they are. Pure: test/client/volume-format.unit.test.ts.
 */
export function withVolume(current: readonly Json[], volume: VolumeSpec): VolumeSpec[] {
  const keep = current.filter((v) => v.name !== volume.name).map(spec);
  return [...keep, volume];
}

/** The list without `name` (its data is kept: `gasper volumes delete` removes it). */
export function withoutVolume(current: readonly Json[], name: string): VolumeSpec[] {
  if (!current.some((v) => v.name === name)) throw new Error(`the app declares no volume "${name}"`);
  return current.filter((v) => v.name !== name).map(spec);
}

function spec(v: Json): VolumeSpec {
  return { name: v.name, path: v.path, ...(typeof v.size === 'number' ? { size: v.size } : {}) };
}

/** `gasper volumes list`: each volume, its size (recorded, not enforced) and what it uses. Pure. */
export function volumeRows(volumes: Json[]): string {
  return table(
    ['VOLUME', 'PATH', 'SIZE', 'USED'],
    volumes.map((v) => [
      v.name,
      v.path,
      typeof v.size === 'number' ? `${v.size} MiB` : '-',
      v.usedBytes === null || v.usedBytes === undefined
        ? 'not measured yet'
        : `${byteSize(v.usedBytes)}${v.overSize ? ' (over its size)' : ''}`,
    ]),
  );
}

async function appVolumes(client: ApiClient, app: string): Promise<Json[]> {
  return (await client.request<{ app: Json }>('GET', `/apps/${enc(app)}`)).app.volumes ?? [];
}

/**
 * `gasper volumes …`: an app's persistent volumes (docs/guides/volumes.md). Adding or unmounting
 * is a `PATCH {"volumes"}` of the whole list, followed like a redeploy; deleting the data, backups
 * and restores are jobs on the app's node.
 */
export function registerVolumeCommands(program: Command, kit: CommandKit): void {
  const volumes = program.command('volumes').description("an app's persistent volumes: kept across deploys");
  const list = volumes
    .command('list')
    .alias('ls')
    .description("an app's volumes: path, size, and what each uses on its node")
    .argument('<app>')
    .action(
      kit.action(async (client, app: string) => {
        const list = await appVolumes(client, app);
        kit.print({ app, volumes: list }, () =>
          list.length ? volumeRows(list) : `${app} has no volumes (gasper volumes add ${app} <name> <path>)`,
        );
      }),
    );
  examples(list, ['gasper volumes list notes']);
  const add = volumes
    .command('add')
    .description('mount a volume in every instance (or change its path or size) and redeploy')
    .argument('<app>')
    .argument('<name>', 'a DNS label, unique within the app')
    .argument('<path>', 'where it is mounted: /data, /var/lib/app')
    .option('--size <MiB>', 'recorded and reported, not enforced', Number)
    .option('--no-wait', 'return once the redeploy is queued')
    .action(
      kit.action(async (client, app: string, name: string, mount: string, o: Json) => {
        const next = withVolume(await appVolumes(client, app), {
          name,
          path: mount,
          ...(o.size !== undefined ? { size: o.size } : {}),
        });
        const body = await client.request<Json>('PATCH', `/apps/${enc(app)}`, { volumes: next });
        await patched(kit, client, app, body, o.wait, `volume ${name} at ${mount}`);
      }),
    );
  examples(add, ['gasper volumes add notes data /data', 'gasper volumes add notes data /data --size 1024']);
  const unmount = volumes
    .command('unmount')
    .description('stop mounting a volume and redeploy; its data is kept (gasper volumes delete removes it)')
    .argument('<app>')
    .argument('<name>')
    .option('--no-wait', 'return once the redeploy is queued')
    .action(
      kit.action(async (client, app: string, name: string, o: Json) => {
        const next = withoutVolume(await appVolumes(client, app), name);
        const body = await client.request<Json>('PATCH', `/apps/${enc(app)}`, { volumes: next });
        await patched(kit, client, app, body, o.wait, `volume ${name} unmounted, its data kept`);
      }),
    );
  examples(unmount, ['gasper volumes unmount notes data']);
  const remove = volumes
    .command('delete')
    .description("delete a volume's data and backups (refused while the app mounts it)")
    .argument('<app>')
    .argument('<name>')
    .option('--no-wait', 'return once the deletion is queued')
    .action(
      kit.action(async (client, app: string, name: string, o: Json) => {
        const body = await client.request<Json>('DELETE', `/apps/${enc(app)}/volumes/${enc(name)}`);
        await kit.finish(client, body, o.wait, () => `volume ${name} of ${app} deleted, with its backups`);
      }),
    );
  examples(remove, ['gasper volumes unmount notes data && gasper volumes delete notes data']);
  const backup = volumes
    .command('backup')
    .description('take a backup of a volume now (a tar of its files, taken while the app runs)')
    .argument('<app>')
    .argument('<name>')
    .option('--no-wait', 'return once the backup is queued')
    .action(
      kit.action(async (client, app: string, name: string, o: Json) => {
        const body = await client.request<Json>('POST', `/apps/${enc(app)}/volumes/${enc(name)}/backups`);
        await kit.finish(client, body, o.wait, () => `backup ${body.backup.id} of volume ${name} taken`);
      }),
    );
  examples(backup, ['gasper volumes backup notes data']);
  const backups = volumes
    .command('backups')
    .description("a volume's backups, newest first")
    .argument('<app>')
    .argument('<name>')
    .action(
      kit.action(async (client, app: string, name: string) => {
        const body = await client.request<{ backups: Json[] }>('GET', `/apps/${enc(app)}/volumes/${enc(name)}/backups`);
        kit.print(body, () =>
          body.backups.length
            ? table(
                ['ID', 'SIZE', 'TAKEN'],
                body.backups.map((b) => [b.id, byteSize(b.size), shortDate(b.createdAt)]),
              )
            : `volume ${name} of ${app} has no backups (gasper volumes backup ${app} ${name})`,
        );
      }),
    );
  examples(backups, ['gasper volumes backups notes data']);
  const restore = volumes
    .command('restore')
    .description("replace a volume's files by a backup's (stop the app first for a consistent restore)")
    .argument('<app>')
    .argument('<name>')
    .argument('<backup>', 'a backup id (see gasper volumes backups)')
    .option('--no-wait', 'return once the restore is queued')
    .action(
      kit.action(async (client, app: string, name: string, backupId: string, o: Json) => {
        const body = await client.request<Json>('POST', `/apps/${enc(app)}/volumes/${enc(name)}/restore`, {
          backup: backupId,
        });
        await kit.finish(client, body, o.wait, () => `volume ${name} of ${app} restored from ${backupId}`);
      }),
    );
  examples(restore, ['gasper apps stop notes && gasper volumes restore notes data 20260102t030405z-ab12']);
  const download = volumes
    .command('download')
    .description('download a backup (a tar) to a file')
    .argument('<app>')
    .argument('<name>')
    .argument('<backup>', 'a backup id (see gasper volumes backups)')
    .option('-o, --output <file>', 'where to write it (default: the name the API gives, here); - for stdout')
    .action(
      kit.action((client, app: string, name: string, backupId: string, o: Json) =>
        saveDownload(
          kit,
          client,
          `/apps/${enc(app)}/volumes/${enc(name)}/backups/${enc(backupId)}`,
          o.output,
          `${app}-${name}-${backupId}.tar`,
        ),
      ),
    );
  examples(download, ['gasper volumes download notes data 20260102t030405z-ab12 -o data.tar']);
}
