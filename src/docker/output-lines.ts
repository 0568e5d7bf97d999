/**
 * Turns a live multiplexed Docker stream (attach or logs of a non-TTY container: frames of an
 * 8-byte header, then the payload) into lines, in the order the frames come: one reader for both
 * streams, so that order is kept (two demuxed streams read apart may swap lines). Docker itself
 * reads a container's stdout and stderr pipes apart, so across the two the order is Docker's, not
 * necessarily the program's. A partial line is kept per stream until its end comes. Pure: fed
 * chunks, it calls `emit`.
 *
 * A line is kept to `maxLineChars`: past them it is emitted cut (ending in `…`) once its newline
 * comes, and the rest of it is dropped as it arrives. So the work per chunk is bounded by the chunk,
 * not by the line: a program writing megabytes without a newline must not stall the worker's event
 * loop (a growing string re-split on every chunk is quadratic) or grow a string until V8 throws.
 */
export class OutputLines {
  private pending: Buffer = Buffer.alloc(0);
  private readonly partial = { stdout: '', stderr: '' };
  /** The stream's current line went past the limit: what more comes of it until its newline is dropped. */
  private readonly cut = { stdout: false, stderr: false };
  private readonly maxLineChars: number;

  constructor(
    private readonly emit: (line: string, stream: 'stdout' | 'stderr') => void,
    options: { maxLineChars?: number } = {},
  ) {
    this.maxLineChars = options.maxLineChars ?? defaultMaxLineChars;
  }

  /** Feeds a chunk of the stream (frames may be split across chunks). */
  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (offset + 8 <= this.pending.length) {
      const length = this.pending.readUInt32BE(offset + 4);
      if (offset + 8 + length > this.pending.length) break;
      const stream = this.pending[offset] === 2 ? 'stderr' : 'stdout';
      this.text(stream, this.pending.subarray(offset + 8, offset + 8 + length).toString('utf8'));
      offset += 8 + length;
    }
    this.pending = this.pending.subarray(offset);
  }

  /** The stream ended: the partial lines left are lines too. */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) if (this.partial[stream]) this.flush(stream, false);
  }

  private text(stream: 'stdout' | 'stderr', text: string): void {
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      this.append(stream, text, start, end);
      this.flush(stream, true);
      start = end + 1;
    }
    this.append(stream, text, start, text.length);
  }

  /** Adds `text[from, to)` to the partial line, up to one char past the limit (room for a `\r` before `\n`). */
  private append(stream: 'stdout' | 'stderr', text: string, from: number, to: number): void {
    if (this.cut[stream] || from >= to) return;
    const room = this.maxLineChars + 1 - this.partial[stream].length;
    if (to - from > room) this.cut[stream] = true;
    this.partial[stream] += text.slice(from, Math.min(to, from + room));
  }

  private flush(stream: 'stdout' | 'stderr', newline: boolean): void {
    let line = this.partial[stream];
    if (newline && !this.cut[stream] && line.endsWith('\r')) line = line.slice(0, -1);
    if (this.cut[stream] || line.length > this.maxLineChars) line = `${line.slice(0, this.maxLineChars)}…`;
    this.partial[stream] = '';
    this.cut[stream] = false;
    this.emit(line, stream);
  }
}

/** The line limit when none is given: what a one-off run's output is cut to (workers/apps/one-off.ts). */
export const defaultMaxLineChars = 4096;
