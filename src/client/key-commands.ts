import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { shortDate } from './domain-format.ts';
import { type Json, table } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';
import { readStdin } from './stdin.ts';

/** The first public key the user has, as ssh-keygen names them. */
async function defaultPublicKey(): Promise<string> {
  for (const name of ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub']) {
    const file = path.join(os.homedir(), '.ssh', name);
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text) return text;
  }
  throw new Error('no public key in ~/.ssh (id_ed25519.pub, id_ecdsa.pub, id_rsa.pub): name a file, or - for stdin');
}

/** `gasper keys add|list|remove`: the SSH public keys that may `ssh <app>@<host>` into an app. */
export function registerKeyCommands(program: Command, kit: CommandKit): void {
  const keys = program
    .command('keys')
    .description("SSH public keys allowed into an app's containers (ssh <app>@<host>)");
  const add = keys
    .command('add')
    .description(
      'allow an SSH public key into an app (default: your ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub)',
    )
    .argument('<app>')
    .argument('[file]', 'a public key file (one line: type, key, comment), or - for stdin')
    .action(
      kit.action(async (client, app: string, file: string | undefined) => {
        const key =
          file === '-' ? await readStdin() : file ? await fs.readFile(file, 'utf8') : await defaultPublicKey();
        const body = await client.request<Json>('POST', `/apps/${enc(app)}/ssh-keys`, { key: key.trim() });
        kit.print(
          body,
          () =>
            `${body.id} added to ${app}: ${body.type} ${body.fingerprint}${body.comment ? ` (${body.comment})` : ''}`,
        );
      }),
    );
  examples(add, [
    'gasper keys add web',
    'gasper keys add web ~/.ssh/deploy.pub',
    'cat key.pub | gasper keys add web -',
  ]);
  const list = keys
    .command('list')
    .alias('ls')
    .description('list the SSH keys allowed into an app')
    .argument('<app>')
    .action(
      kit.action(async (client, app: string) => {
        const body = await client.request<{ keys: Json[] }>('GET', `/apps/${enc(app)}/ssh-keys`);
        kit.print(body, () =>
          body.keys.length
            ? table(
                ['ID', 'TYPE', 'FINGERPRINT', 'ADDED', 'COMMENT'],
                body.keys.map((k) => [k.id, k.type, k.fingerprint, shortDate(k.createdAt), k.comment ?? '']),
              )
            : `no SSH keys for ${app} (gasper keys add ${app})`,
        );
      }),
    );
  examples(list, ['gasper keys list web']);
  const remove = keys
    .command('remove')
    .alias('rm')
    .description('remove an SSH key from an app')
    .argument('<app>')
    .argument('<id>', 'the key id (see gasper keys list)')
    .action(
      kit.action(async (client, app: string, id: string) => {
        await client.request('DELETE', `/apps/${enc(app)}/ssh-keys/${enc(id)}`);
        kit.print({ removed: id }, () => `${id} removed from ${app}`);
      }),
    );
  examples(remove, ['gasper keys remove web key_0123456789abcdef']);
}
