import type { Command } from 'commander';
import { shortDate } from './domain-format.ts';
import type { Json } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';

/** What `gasper webhook create` prints: the four fields to paste into GitHub, and what follows. */
export function webhookSetup(app: string, created: Json, branch: string | undefined, rotated: boolean): string {
  return [
    rotated
      ? `${app}: push webhook secret rotated: the old one stops working now, so paste this one into GitHub.`
      : `${app}: push webhook ready. On GitHub, in the repository's Settings → Webhooks → Add webhook:`,
    `  Payload URL:   ${created.url}`,
    `  Content type:  ${created.contentType}`,
    `  Secret:        ${created.secret}   (shown this once)`,
    '  Events:        Just the push event',
    `A push to ${branch ? `branch ${branch}` : "the repository's default branch"} then deploys exactly the pushed commit.`,
  ].join('\n');
}

/** `gasper webhook show <app>`: whether pushes deploy, since when, and the newest push deployed. */
export function webhookLine(app: string, webhook: Json | null | undefined): string {
  if (!webhook) return `${app}: no push webhook (gasper webhook create ${app} sets one up)`;
  const last = webhook.lastPushAt ? `last push deployed: ${shortDate(webhook.lastPushAt)}` : 'no push deployed yet';
  return `${app}: push webhook set up ${shortDate(webhook.createdAt)}; ${last}`;
}

/** `gasper webhook create|show|remove`: deploys on push from GitHub (docs/guides/webhooks.md). */
export function registerWebhookCommands(program: Command, kit: CommandKit): void {
  const webhook = program.command('webhook').description('deploy on every push to GitHub (a push webhook)');
  const create = webhook
    .command('create')
    .description('set up the push webhook (or, with --rotate, make a new secret) and print what to paste into GitHub')
    .argument('<app>')
    .option('--rotate', 'replace the secret of a webhook set up before: the old one stops working at once')
    .action(
      kit.action(async (client, app: string, o: Json) => {
        const { app: doc } = await client.request<{ app: Json }>('GET', `/apps/${enc(app)}`);
        // A new secret breaks GitHub's deliveries until it is pasted there: only when asked for.
        if (doc.webhook && !o.rotate)
          throw new Error(
            `${app} already has a push webhook (set up ${shortDate(doc.webhook.createdAt)}): ` +
              `gasper webhook create ${app} --rotate makes a new secret, and the old one stops working at once`,
          );
        const created = await client.request<Json>('POST', `/apps/${enc(app)}/webhook`);
        if (created.warning && !kit.json()) process.stderr.write(`${app}: ${created.warning}\n`);
        kit.print(created, () => webhookSetup(app, created, doc.repo?.branch, !!doc.webhook));
      }),
    );
  examples(create, [
    'gasper webhook create web',
    'gasper webhook create web --rotate',
    'gasper --json webhook create web',
  ]);
  const show = webhook
    .command('show')
    .description('whether pushes deploy the app, since when, and the newest push deployed')
    .argument('<app>')
    .action(
      kit.action(async (client, app: string) => {
        const { app: doc } = await client.request<{ app: Json }>('GET', `/apps/${enc(app)}`);
        kit.print({ app, webhook: doc.webhook ?? null }, () => webhookLine(app, doc.webhook));
      }),
    );
  examples(show, ['gasper webhook show web']);
  const remove = webhook
    .command('remove')
    .alias('rm')
    .description('remove the push webhook: deliveries are refused from now on')
    .argument('<app>')
    .action(
      kit.action(async (client, app: string) => {
        await client.request('DELETE', `/apps/${enc(app)}/webhook`);
        kit.print(
          { app, webhook: null },
          () => `${app}: push webhook removed (GitHub's deliveries now get 404: remove it there too)`,
        );
      }),
    );
  examples(remove, ['gasper webhook remove web']);
}
