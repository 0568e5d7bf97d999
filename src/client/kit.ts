import type { Command } from 'commander';
import type { ApiClient } from './api.ts';
import type { Json } from './format.ts';

/** How commands.ts runs an action and prints: handed to each command file, so all share one behaviour. */
export interface CommandKit {
  /** Runs a client action with the saved login; API errors become the API's message and exit code 1. */
  action<A extends unknown[]>(run: (client: ApiClient, ...args: A) => Promise<void>): (...args: A) => Promise<void>;
  /** Prints `json` with --json, else `human()`. */
  print(json: unknown, human: () => string): void;
  json(): boolean;
  /**
   * After a request that started a job (`body.job`): follows it with a progress bar unless
   * `wait` is false, then prints `done(job)` (or the job's error, exit code 1).
   */
  finish(client: ApiClient, body: Json, wait: boolean, done: (job: Json) => string | Promise<string>): Promise<void>;
}

/** Adds an "Examples:" section to a command's `--help`. */
export function examples(command: Command, lines: readonly string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

export const enc = encodeURIComponent;
