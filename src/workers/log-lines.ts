/**
 * Lines of a followed container log (`docker logs --timestamps`). Pure, so the parsing and the
 * resume arithmetic are unit-tested in test/workers/log-lines.unit.test.ts.
 */

/** One output line with Docker's timestamp (RFC 3339 with nanoseconds, UTC). */
export interface TimedLine {
  timestamp: string;
  text: string;
}

/** Longest line kept; Docker itself splits lines at 16 KiB. */
export const maxLineLength = 16 * 1024;

const timestampPrefix = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) /;

/** `2024-05-01T10:00:00.123456789Z hello` → `{timestamp, text}`; a line without one keeps `fallback`. */
export function parseTimedLine(raw: string, fallback: string): TimedLine {
  const match = timestampPrefix.exec(raw);
  const text = match ? raw.slice(match[0].length) : raw;
  return { timestamp: match ? match[1]! : fallback, text: text.length > maxLineLength ? text.slice(0, maxLineLength) : text };
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
 * `flush` returns what is left when the stream ends.
 */
export class LineBuffer {
  private pending = '';

  push(chunk: string): string[] {
    const parts = (this.pending + chunk).split('\n');
    this.pending = parts.pop() ?? '';
    // A line longer than Docker's own split has no newline for a long time: cut it.
    if (this.pending.length > 2 * maxLineLength) {
      parts.push(this.pending);
      this.pending = '';
    }
    return parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }

  flush(): string[] {
    const rest = this.pending;
    this.pending = '';
    return rest ? [rest] : [];
  }
}
