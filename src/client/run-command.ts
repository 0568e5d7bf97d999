import type { Command } from 'commander';
import { examples } from './kit.ts';
import { ApiClient, ClientError } from './api.ts';
import { loadClientConfig } from './config.ts';
import { fieldLines, type Json } from './format.ts';

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

/** `gasper run <app> -- <command...>`: exits with the command's exit status. */
export function registerRunCommand(program: Command): void {
  const run = program
    .command('run')
    .description("run a command once in a new container of the app's current release, and print its output")
    .argument('<app>', 'the app')
    .argument('<command...>', 'the command (after --)')
    .option('--no-wait', 'print the job id and return')
    .action(async (app: string, words: string[], opts: { wait: boolean }) => {
      try {
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
    });
  examples(run, [
    'gasper run shop -- npm run migrate',
    "gasper run shop -- sh -c 'echo hi; exit 3'   # prints hi, exits 3",
    'gasper run shop --no-wait -- node scripts/report.js',
  ]);
}
