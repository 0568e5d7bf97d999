import type { Command } from 'commander';
import { shortDate } from './domain-format.ts';
import { byteSize, type Json, table } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';

/** `up`, `up, draining`, `down`. */
function stateWords(node: Json): string {
  return `${node.state}${node.draining ? ', draining' : ''}`;
}

/** `1.5 of 4 CPU`: what placement reserved of what the node has. */
function share(reserved: number | undefined, capacity: number | undefined, unit: (n: number) => string): string {
  if (capacity === undefined) return '-';
  return `${unit(reserved ?? 0)} of ${unit(capacity)}`;
}

const cpus = (n: number) => `${Math.round(n * 100) / 100}`;

/** `gasper nodes list`: one row per node. Pure: test/client/node-format.unit.test.ts. */
export function nodeRows(nodes: Json[]): string {
  return table(
    ['NODE', 'STATE', 'ADDRESS', 'CPU RESERVED', 'MEMORY RESERVED', 'DISK FREE', 'APPS', 'DATABASES'],
    nodes.map((n) => [
      n.id,
      stateWords(n),
      n.address,
      share(n.reserved?.cpu, n.capacity?.cpus, cpus),
      share(n.reserved?.memoryBytes, n.capacity?.memoryBytes, byteSize),
      n.usage?.diskFreeBytes === undefined ? '-' : byteSize(n.usage.diskFreeBytes),
      String(n.apps?.length ?? 0),
      String(n.databases?.length ?? 0),
    ]),
  );
}

/** `gasper nodes show`: the node, what runs there, and the disk Gasper takes on it by category. */
export function nodeDetails(n: Json): string {
  const disk = n.diskUse;
  const lines = [
    `${n.id}  (${stateWords(n)})`,
    `  address:     ${n.address}`,
    `  cpu:         ${share(n.reserved?.cpu, n.capacity?.cpus, cpus)} reserved${n.usage ? `, load ${cpus(n.usage.load1PerCpu)} per CPU` : ''}`,
    `  memory:      ${share(n.reserved?.memoryBytes, n.capacity?.memoryBytes, byteSize)} reserved${n.usage ? `, ${byteSize(n.usage.memoryUsedBytes)} in use` : ''}`,
    `  disk:        ${n.usage?.diskFreeBytes === undefined ? '-' : `${byteSize(n.usage.diskFreeBytes)} free`}${n.capacity?.diskBytes ? ` of ${byteSize(n.capacity.diskBytes)}` : ''}`,
    `  apps:        ${(n.apps ?? []).join(', ') || '-'}`,
    `  databases:   ${(n.databases ?? []).join(', ') || '-'}`,
  ];
  if (disk)
    lines.push(
      `  gasper's disk use (${shortDate(disk.measuredAt)}): releases ${byteSize(disk.releasesBytes)}, ` +
        `images ${byteSize(disk.imagesBytes)} (${disk.images}), build caches ${byteSize(disk.cachesBytes)}, ` +
        `containers ${byteSize(disk.containersBytes)}, volumes ${byteSize(disk.volumesBytes)}` +
        `${disk.logsBytes === undefined ? '' : `, logs ${byteSize(disk.logsBytes)}`}`,
    );
  for (const s of n.staying ?? [])
    lines.push(`  stays here:  ${s.database ? `database ${s.database}` : `app ${s.app}`} (${s.reason})`);
  lines.push(`  heartbeat:   ${shortDate(n.heartbeatAt)}, started ${shortDate(n.startedAt)}`);
  return lines.join('\n');
}

/** What `gasper nodes drain` prints: each app moved (and its job), each not placed and why, what stays. */
export function drainReport(id: string, body: Json): string {
  return [
    `${id} draining: nothing new is placed there, and its apps are redeployed elsewhere`,
    ...(body.moved ?? []).map((m: Json) => `  moved:      app ${m.app} to ${m.to}${m.job ? ` (job ${m.job})` : ''}`),
    ...(body.unplaced ?? []).map((u: Json) => `  not moved:  app ${u.app} (${u.reason})`),
    ...(body.staying ?? []).map(
      (s: Json) => `  stays:      ${s.database ? `database ${s.database}` : `app ${s.app}`} (${s.reason})`,
    ),
  ].join('\n');
}

/** `gasper nodes …` (admins): the machines that run apps, as `/nodes`. */
export function registerNodeCommands(program: Command, kit: CommandKit): void {
  const nodes = program.command('nodes').description('the machines that run apps (admins)');
  const list = nodes
    .command('list')
    .alias('ls')
    .description('list the nodes: state, what placement reserved, free disk, what runs there')
    .action(
      kit.action(async (client) => {
        const body = await client.request<{ nodes: Json[] }>('GET', '/nodes');
        kit.print(body, () => (body.nodes.length ? nodeRows(body.nodes) : 'no nodes: start a worker (gasper up)'));
      }),
    );
  examples(list, ['gasper nodes list']);
  const show = nodes
    .command('show')
    .description("show a node, with the disk Gasper's releases, images, caches, volumes and logs take")
    .argument('<node>')
    .action(
      kit.action(async (client, id: string) => {
        const body = await client.request<{ node: Json }>('GET', `/nodes/${enc(id)}`);
        kit.print(body, () => nodeDetails(body.node));
      }),
    );
  examples(show, ['gasper nodes show node-1']);
  const drain = nodes
    .command('drain')
    .description('place nothing new on a node and move its apps elsewhere (databases and apps with volumes stay)')
    .argument('<node>')
    .action(
      kit.action(async (client, id: string) => {
        const body = await client.request<Json>('POST', `/nodes/${enc(id)}/drain`);
        kit.print(body, () => drainReport(id, body));
      }),
    );
  examples(drain, ['gasper nodes drain node-2']);
  const undrain = nodes
    .command('undrain')
    .description('let placement use a drained node again')
    .argument('<node>')
    .action(
      kit.action(async (client, id: string) => {
        const body = await client.request<Json>('POST', `/nodes/${enc(id)}/undrain`);
        kit.print(body, () => `${id}: new apps may be placed there again`);
      }),
    );
  examples(undrain, ['gasper nodes undrain node-2']);
  const remove = nodes
    .command('remove')
    .alias('rm')
    .description('retire a node whose worker is gone and that holds nothing any more')
    .argument('<node>')
    .action(
      kit.action(async (client, id: string) => {
        const body = await client.request<Json>('DELETE', `/nodes/${enc(id)}`);
        kit.print(body, () => `${id} retired`);
      }),
    );
  examples(remove, ['gasper nodes remove node-3']);
}
