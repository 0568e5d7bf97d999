/**
 * Lines of a followed container log (`docker logs --timestamps`). Pure, so the parsing and the
 * resume arithmetic are unit-tested in test/workers/observe/log-lines.unit.test.ts.
 */
import { defaultLogLimits, truncateLine } from '../../store/app-logs.ts';

/** One output line with Docker's timestamp (RFC 3339 with nanoseconds, UTC). */
export interface TimedLine {
  timestamp: string;
  text: string;
}

/** Longest line kept by default (GASPER_LOG_LINE_MAX_BYTES), in bytes of UTF-8. */
export const maxLineLength = defaultLogLimits.maxLineBytes;

const timestampPrefix = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) /;

/**
 * `2024-05-01T10:00:00.123456789Z hello` → `{timestamp, text}`; a line without one keeps
 * `fallback`. A text over `maxBytes` is cut and says so (`… [truncated N bytes]`).
 */
export function parseTimedLine(raw: string, fallback: string, maxBytes = maxLineLength): TimedLine {
  const match = timestampPrefix.exec(raw);
  const text = match ? raw.slice(match[0].length) : raw;
  return { timestamp: match ? match[1]! : fallback, text: truncateLine(text, maxBytes) };
}

/**
 * Nanoseconds since the epoch of an RFC 3339 timestamp, exactly (Date keeps milliseconds only):
 * lines of one millisecond must still be told apart when resuming.
 */
export function timestampNanos(timestamp: string): bigint | undefined {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(timestamp);
  if (!match) return undefined;
  const wholeMs = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(wholeMs)) return undefined;
  return BigInt(wholeMs) * 1_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

/** Docker's `since` query value for a resume point: `<seconds>.<nanoseconds>`. */
export function sinceParameter(nanos: bigint): string {
  const seconds = nanos / 1_000_000_000n;
  return `${seconds}.${String(nanos % 1_000_000_000n).padStart(9, '0')}`;
}

/**
 * Splits chunks of text into complete lines, keeping a partial last line for the next chunk.
 * `flush` returns what is left when the stream ends. A line longer than `maxBytes` keeps its
 * head only: the rest is counted, not held, until its newline comes, and the line then ends
 * with `… [truncated N bytes]`, so an endless line costs no memory and is still one line.
 */
export class LineBuffer {
  private pending = '';
  /** Bytes of the current line thrown away. */
  private dropped = 0;

  constructor(private readonly maxBytes = maxLineLength) {}

  push(chunk: string): string[] {
    const lines: string[] = [];
    for (let start = 0; ; ) {
      const newline = chunk.indexOf('\n', start);
      this.append(newline === -1 ? chunk.slice(start) : chunk.slice(start, newline));
      if (newline === -1) break;
      lines.push(this.take());
      start = newline + 1;
    }
    return lines;
  }

  flush(): string[] {
    return this.pending || this.dropped ? [this.take()] : [];
  }

  private append(piece: string): void {
    if (this.dropped > 0) {
      this.dropped += Buffer.byteLength(piece);
      return;
    }
    this.pending += piece;
    // A character is at least one byte: only a line this long in characters can be over in bytes.
    if (this.pending.length <= this.maxBytes) return;
    const bytes = Buffer.from(this.pending);
    let cut = this.maxBytes;
    while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
    this.pending = bytes.subarray(0, cut).toString('utf8');
    this.dropped = bytes.length - cut;
  }

  private take(): string {
    const line = this.pending.endsWith('\r') && this.dropped === 0 ? this.pending.slice(0, -1) : this.pending;
    const dropped = this.dropped;
    this.pending = '';
    this.dropped = 0;
    return dropped > 0 ? truncateLine(line, this.maxBytes, dropped) : line;
  }
}
