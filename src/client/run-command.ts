import { spawn } from 'node:child_process';
import os from 'node:os';
import type { Command } from 'commander';
import { examples } from './kit.ts';
import { ApiClient, ClientError } from './api.ts';
import { loadClientConfig } from './config.ts';
import { fieldLines, type Json } from './format.ts';
import { resolveSshEndpoint, sshRunArgs, type InteractiveMode } from './ssh-endpoint.ts';

/** Quotes a word for `sh` when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=:@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line a run executes: one word is taken as a shell command as it is (`gasper run app
 * -- 'echo $HOME'`); several are quoted one by one, so `gasper run app -- sh -c 'echo hi; exit 3'`
 * runs exactly those three words.
 */
export function commandLine(words: readonly string[]): string {
  return words.length === 1 ? words[0]! : words.map(shellQuote).join(' ');
}

/** Lines the worker adds to a run's output (time limit, lines not kept): on stderr, apart from the command's. */
const noteLine = /^\[gasper\] /;

/**
 * Follows a run job: prints its output lines as they come (the job log, polled like a deploy's)
 * and resolves to the command's exit code, or 1 when the run could not happen.
 */
export async function followRun(client: ApiClient, id: string, intervalMs = 250): Promise<number> {
  let printed = 0;
  for (;;) {
    const { job } = await client.request<{ job: Json }>('GET', `/jobs/${encodeURIComponent(id)}`);
    const log: string[] = job.log ?? [];
    for (const line of log.slice(printed)) {
      if (noteLine.test(line)) process.stderr.write(`${line}\n`);
      else process.stdout.write(`${line}\n`);
    }
    printed = Math.max(printed, log.length);
    if (job.state === 'completed') return Number(job.result?.exitCode ?? 1);
    if (job.state === 'failed') {
      process.stderr.write(`gasper: run failed: ${job.error ?? 'unknown error'}\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * `gasper run -it <app> [-- <command...>]`: the system `ssh` to the SSH service's one-off target
 * (`<app>.run@host`, ssh/run-session.ts), which opens a new container of the current release with
 * a TTY; resolves to ssh's exit status, which is the command's. `GASPER_SSH_COMMAND` replaces
 * `ssh` (run by the shell, like GIT_SSH_COMMAND): options, an identity, another client.
 */
export async function runInteractive(
  app: string,
  words: readonly string[],
  mode: InteractiveMode,
  sshOption: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const config = await loadClientConfig(env);
  const endpoint = resolveSshEndpoint({
    ...(sshOption ? { option: sshOption } : {}),
    ...(env.GASPER_SSH ? { env: env.GASPER_SSH } : {}),
    ...(config.ssh ? { saved: config.ssh } : {}),
    apiUrl: config.url,
  });
  const args = sshRunArgs(endpoint, app, mode, words.length ? commandLine(words) : undefined);
  const custom = env.GASPER_SSH_COMMAND;
  const child = custom
    ? spawn('sh', ['-c', `${custom} "$@"`, 'gasper-ssh', ...args], { stdio: 'inherit' })
    : spawn('ssh', args, { stdio: 'inherit' });
  // The terminal's signals reach ssh too (same process group): ssh decides, this process waits.
  const ignore = () => {};
  for (const signal of ['SIGINT', 'SIGQUIT', 'SIGTSTP'] as const) process.on(signal, ignore);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ENOENT'
            ? new Error('`ssh` was not found: install the OpenSSH client, or set GASPER_SSH_COMMAND')
            : err,
        ),
      );
      child.once('exit', (status, signal) =>
        resolve(status ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)),
      );
    });
    // 255 is ssh's own failure (it could not connect or authenticate) more often than the command's.
    if (code === 255)
      process.stderr.write(
        `gasper: ssh exited with 255; if it could not connect, the SSH endpoint ${endpoint.host}:${endpoint.port} (from ${endpoint.source}) may be wrong: give --ssh <host[:port]>, set GASPER_SSH, or \`gasper login … --ssh\`; the app's keys: \`gasper keys add ${app}\`\n`,
      );
    return code;
  } finally {
    for (const signal of ['SIGINT', 'SIGQUIT', 'SIGTSTP'] as const) process.off(signal, ignore);
  }
}

/**
 * `gasper run <app> -- <command...>`: exits with the command's exit status. With `-i`/`-t` (or
 * `-it`, as docker) the command (or a shell) runs interactively through the SSH service.
 */
export function registerRunCommand(program: Command): void {
  const run = program
    .command('run')
    .description("run a command once in a new container of the app's current release, and print its output")
    .argument('<app>', 'the app')
    .argument('[command...]', 'the command (after --); with -i/-t, default a shell')
    .option('--no-wait', 'print the job id and return')
    .option('-i, --interactive', "pass stdin to the command, through the SSH service (the app's SSH keys)")
    .option('-t, --tty', 'give the command a terminal, through the SSH service (-it: an interactive session)')
    .option(
      '--ssh <host[:port]>',
      "the SSH service for -i/-t (default: GASPER_SSH, the login's, else the API's host, port 2222)",
    )
    .action(
      async (
        app: string,
        words: string[],
        opts: { wait: boolean; interactive?: boolean; tty?: boolean; ssh?: string },
      ) => {
        try {
          if (opts.interactive || opts.tty) {
            if (!opts.wait) throw new Error('--no-wait cannot be used with -i/-t: an interactive run is followed');
            process.exitCode = await runInteractive(
              app,
              words,
              { interactive: opts.interactive === true, tty: opts.tty === true },
              opts.ssh,
            );
            return;
          }
          if (words.length === 0)
            throw new Error('missing the command: gasper run <app> -- <command...> (or -it for a shell)');
          const config = await loadClientConfig();
          const client = new ApiClient(config.url, config.token);
          const body = await client.request<Json>('POST', `/apps/${encodeURIComponent(app)}/run`, {
            command: commandLine(words),
          });
          if (!opts.wait) {
            process.stdout.write(`${program.opts().json ? JSON.stringify(body) : `job ${body.job.id} queued`}\n`);
            return;
          }
          process.exitCode = await followRun(client, body.job.id);
        } catch (err) {
          const fields = err instanceof ClientError ? fieldLines(err.fields) : [];
          process.stderr.write(`${[`gasper: ${(err as Error).message}`, ...fields].join('\n')}\n`);
          process.exitCode = 1;
        }
      },
    );
  examples(run, [
    'gasper run shop -- npm run migrate',
    "gasper run shop -- sh -c 'echo hi; exit 3'   # prints hi, exits 3",
    'gasper run shop --no-wait -- node scripts/report.js',
    'gasper run -it shop                           # a shell in a new container (ssh shop.run@host)',
    'gasper run -it shop -- python manage.py shell',
  ]);
}
