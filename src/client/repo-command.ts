import type { Command } from 'commander';
import { patched } from './env-commands.ts';
import type { Json } from './format.ts';
import { type CommandKit, enc, examples } from './kit.ts';
import { readTokenStdin } from './stdin.ts';

/** The app's repository in one line: URL, branch, folder and whether a token is kept. */
export function repoLine(repo: Json): string {
  const where = [
    repo.branch ? `branch ${repo.branch}` : 'default branch',
    repo.path ? `folder ${repo.path}` : 'whole repository',
  ];
  return `${repo.url} (${where.join(', ')}), token: ${repo.hasToken ? 'set' : 'none'}`;
}

/** `--username`: most servers take any user name with a token; Bitbucket wants a real one. */
export const tokenUserHelp =
  'the user name sent with the token (default x-access-token, which GitHub, GitLab and Gitea accept; Bitbucket wants yours)';

/** An access token and the user name it goes with, as `repo` fields. */
export interface RepoCredentials {
  token?: string;
  username?: string;
}

/**
 * `--token-stdin` and `--username` as `repo` fields, the token read from stdin (never argv, so
 * never in the shell's history or `ps`). Shared by `apps create` and `apps repo`.
 */
export async function credentialOptions(o: Json): Promise<RepoCredentials> {
  if (o.username !== undefined && !o.tokenStdin) throw new Error('--username goes with --token-stdin');
  if (!o.tokenStdin) return {};
  return { token: await readTokenStdin(), ...(o.username !== undefined ? { username: o.username } : {}) };
}

/**
 * The `repo` change of `PATCH /apps/:name` the options ask for (`credentials`: from
 * credentialOptions); undefined for none (show). Pure: test/client/repo-command.unit.test.ts.
 */
export function repoChange(o: Json, credentials: RepoCredentials = {}): Json | undefined {
  if (o.branch !== undefined && o.defaultBranch) throw new Error('give --branch or --default-branch, not both');
  if (o.path !== undefined && o.root) throw new Error('give --path or --root, not both');
  if (o.tokenStdin && o.removeToken) throw new Error('give --token-stdin or --remove-token, not both');
  const change: Json = {
    ...(o.url !== undefined ? { url: o.url } : {}),
    ...(o.branch !== undefined ? { branch: o.branch } : o.defaultBranch ? { branch: null } : {}),
    ...(o.path !== undefined ? { path: o.path } : o.root ? { path: null } : {}),
    ...(credentials.token ? credentials : o.removeToken ? { token: null } : {}),
  };
  return Object.keys(change).length ? change : undefined;
}

/**
 * `gasper apps repo`: where the app is built from. A change is a `PATCH /apps/:name {repo}`,
 * which redeploys from the new repository, branch or folder (followed like a deploy); the
 * serving release stays until the new one is healthy, so a wrong branch costs nothing.
 */
export function registerRepoCommand(apps: Command, kit: CommandKit): void {
  const repo = apps
    .command('repo')
    .description("show or change the app's repository, branch or folder (a change redeploys from it)")
    .argument('<app>')
    .option('--url <url>', 'another git repository (a token is kept only on the same server)')
    .option('--branch <branch>', 'the branch to deploy')
    .option('--default-branch', "deploy the repository's default branch")
    .option('--path <folder>', 'the folder of the repository the app is (monorepos, dist/)')
    .option('--root', 'the whole repository, no folder')
    .option('--token-stdin', 'read an access token for an https repository from stdin (kept sealed, never shown)')
    .option('--username <name>', tokenUserHelp)
    .option('--remove-token', 'clone without a token from now on')
    .option('--no-wait', 'return once the redeploy is queued')
    .action(
      kit.action(async (client, app: string, o: Json) => {
        const change = repoChange(o, await credentialOptions(o));
        if (!change) {
          const { app: doc } = await client.request<{ app: Json }>('GET', `/apps/${enc(app)}`);
          return kit.print({ app, repo: doc.repo }, () => `${app}: ${repoLine(doc.repo)}`);
        }
        const body = await client.request<Json>('PATCH', `/apps/${enc(app)}`, { repo: change });
        const changed: string[] = body.changed ?? [];
        // Said before the deploy is followed: the user must know to give the token again.
        if (changed.includes('repo.token') && !body.app.repo?.hasToken && !o.removeToken && !kit.json())
          process.stderr.write(
            `${app}: the repository token was for another server and is not sent to this one: ` +
              `give one for it with gasper apps repo ${app} --token-stdin < token.txt\n`,
          );
        // A token saved for an app that runs is for its next clone: say how to clone now.
        if (!body.redeploy && changed.includes('repo.token'))
          return kit.print(
            body,
            () =>
              `${app}: repository now ${repoLine(body.app.repo)} (saved for the next clone; ` +
              `gasper apps rebuild ${app} deploys the latest commit with it now)`,
          );
        await patched(kit, client, app, body, o.wait, `repository now ${repoLine(body.app.repo)}`);
      }),
    );
  examples(repo, [
    'gasper apps repo web',
    'gasper apps repo web --branch release',
    'gasper apps repo web --url https://github.com/me/web-v2.git --default-branch',
    'gasper apps repo web --path packages/api',
    'gasper apps repo web --url https://github.com/me/private.git --token-stdin < token.txt',
  ]);
}
