import type { Command } from 'commander';
import type { ApiClient } from './api.ts';
import { domainProblem, domainRows, nextSteps, shortDate } from './domain-format.ts';
import type { Json } from './format.ts';
import { type CommandKit, examples } from './kit.ts';

export type { CommandKit };

const path = (app: string, domain?: string) =>
  `/apps/${encodeURIComponent(app)}/domains${domain === undefined ? '' : `/${encodeURIComponent(domain)}`}`;

/**
 * Polls the domain until it is no longer `pending` (with certificates off: until it is verified,
 * nothing more will come), printing each change on stderr (with the error of a failed attempt
 * that will be retried). Resolves to the last state seen; `failed` (the retries gave up) sets
 * exit code 1.
 */
async function waitForDomain(
  client: ApiClient,
  app: string,
  domain: string,
  quiet: boolean,
  certificatesOff: boolean,
  intervalMs = 2000,
) {
  let last = '';
  for (;;) {
    const { domain: doc } = await client.request<{ domain: Json }>('GET', path(app, domain));
    // A pending domain may have failed attempts already, retried on their own: say why meanwhile.
    const line =
      doc.status === 'pending' && doc.attempts
        ? `pending, attempt ${doc.attempts} failed: ${domainProblem(doc)}`
        : doc.status;
    if (!quiet && line !== last) process.stderr.write(`${domain}: ${line}\n`);
    last = line;
    if (certificatesOff && doc.status === 'pending' && (!doc.verification || doc.verification.verifiedAt)) return doc;
    if (doc.status !== 'pending') {
      if (doc.status === 'failed') process.exitCode = 1;
      return doc;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `gasper domains add|list|remove`: custom domains of an app and their certificates. */
export function registerDomainCommands(program: Command, kit: CommandKit): void {
  const domains = program.command('domains').description("an app's custom domains, with automatic certificates");
  const add = domains
    .command('add')
    .description('add a custom domain to an app; its certificate is issued automatically')
    .argument('<app>')
    .argument('<domain>', 'a DNS name you control, e.g. shop.example.com')
    .option('--wait', 'follow until the certificate is issued or fails')
    .action(
      kit.action(async (client, app: string, domain: string, o: Json) => {
        const body = await client.request<Json>('POST', path(app), { domain });
        const added = body.domain.domain as string;
        const steps = () => nextSteps(app, added, body.dns, body.domain, body.certificates);
        if (!o.wait) return kit.print(body, steps);
        if (!kit.json()) process.stdout.write(`${steps()}\n\n`);
        const doc = await waitForDomain(client, app, added, kit.json(), body.certificates === 'off');
        kit.print({ ...body, domain: doc }, () =>
          doc.status === 'issued'
            ? `${added}: certificate issued by ${doc.issuer ?? '?'}, valid until ${shortDate(doc.notAfter)}`
            : `${added}: ${domainProblem(doc)}`,
        );
      }),
    );
  examples(add, ['gasper domains add web shop.example.com', 'gasper domains add --wait web shop.example.com']);
  const list = domains
    .command('list')
    .alias('ls')
    .description("list an app's custom domains with their certificate status, issuer, expiry and last error")
    .argument('<app>')
    .action(
      kit.action(async (client, app: string) => {
        const body = await client.request<{ domains: Json[] }>('GET', path(app));
        kit.print(body, () =>
          body.domains.length ? domainRows(body.domains) : `no custom domains (gasper domains add ${app} <domain>)`,
        );
      }),
    );
  examples(list, ['gasper domains list web', 'gasper --json domains list web']);
  const remove = domains
    .command('remove')
    .alias('rm')
    .description('remove a custom domain from an app (its certificate is deleted)')
    .argument('<app>')
    .argument('<domain>')
    .action(
      kit.action(async (client, app: string, domain: string) => {
        await client.request('DELETE', path(app, domain));
        kit.print({ removed: domain }, () => `${domain} removed from ${app}; its certificate is deleted`);
      }),
    );
  examples(remove, ['gasper domains remove web shop.example.com']);
}
