import type { Command } from 'commander';
import { examples } from './kit.ts';
import type { CommandKit } from './domain-commands.ts';
import type { Json } from './format.ts';

/** What no longer works after a transfer, in words (api/routes/transfers.ts names them). */
const revokedWords: Record<string, string> = {
  webhook: 'the push webhook (the new owner creates one: POST /apps/:name/webhook)',
  repoToken: 'the repository token (the new owner sets theirs if the repository is private)',
  sshKeys: 'the SSH keys',
  sshPassword: 'the SSH password',
  password: 'the password, rotated (the new owner gets one with POST /databases/:name/rotate-password)',
};

function transferred(kind: string, name: string, body: Json): string {
  const transfer = body.transfer as Json;
  const revoked = (transfer.revoked as string[]).map((r) => `  revoked: ${revokedWords[r] ?? r}`);
  const redeployed = (transfer.redeployedApps as string[] | undefined) ?? [];
  return [
    `${kind} ${name} now belongs to ${transfer.to} (was ${transfer.from})`,
    ...revoked,
    ...(redeployed.length ? [`  redeployed with the new password: ${redeployed.join(', ')}`] : []),
  ].join('\n');
}

/**
 * `gasper apps transfer <app> <user>` and `gasper databases transfer <db> <user>`, added to the
 * `apps` and `databases` commands commands.ts made (found by name, so this file stays apart).
 */
export function registerTransferCommands(program: Command, kit: CommandKit): void {
  for (const [group, kind, path] of [
    ['apps', 'app', '/apps'],
    ['databases', 'database', '/databases'],
  ] as const) {
    const parent = program.commands.find((c) => c.name() === group);
    if (!parent) continue;
    const command = parent
      .command('transfer')
      .description(`give the ${kind} to another user (its owner or an admin)`)
      .argument('<name>')
      .argument('<user>', 'the user who receives it')
      .action(
        kit.action(async (client, name: string, user: string) => {
          const body = await client.request<Json>('POST', `${path}/${encodeURIComponent(name)}/transfer`, { to: user });
          kit.print(body, () => transferred(kind, name, body));
        }),
      );
    examples(command, [`gasper ${group} transfer my-${kind === 'app' ? 'app' : 'db'} bob`]);
  }
}
