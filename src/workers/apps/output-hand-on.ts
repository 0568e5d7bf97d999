/**
 * The total output of one run that is handed on (a job log lives in Redis for a day or more, the
 * run job's and the deploy job's for a release phase): a command printing `yes` for an hour must
 * not fill it. Past it one line says so and the rest is dropped (the result's tail still has the
 * last lines).
 */
export const runOutputBytes = 256 * 1024;

/**
 * Hands a run's output lines to a sink (`onLine`, which may be slow: Redis), one after another in
 * order, through one chained promise: a promise per line kept for the whole run would grow without
 * bound. A failing sink (Redis gone) does not stop the run. Pure: no I/O of its own.
 */
export class OutputHandOn {
  private last: Promise<unknown> = Promise.resolve();
  private bytes = 0;
  private over = false;

  constructor(
    private readonly onLine: (line: string) => Promise<unknown> | unknown,
    private readonly maxBytes = runOutputBytes,
  ) {}

  /** Hands `line` on after the ones before it, unless the output is over the limit. */
  push(line: string): void {
    if (this.over) return;
    // A line's bytes as stored, with its newline.
    this.bytes += Buffer.byteLength(line, 'utf8') + 1;
    if (this.bytes > this.maxBytes) {
      this.over = true;
      line = `[gasper] output over ${formatBytes(this.maxBytes)}: the rest is not kept`;
    }
    this.last = this.last.then(() => this.onLine(line)).catch(() => undefined);
  }

  /** Resolves when every line pushed so far has been handed on. */
  settled(): Promise<void> {
    return this.last.then(() => undefined);
  }
}

function formatBytes(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}
