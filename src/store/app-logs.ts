import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import { processOfContainer } from '../core/naming.ts';
import { appendLogLines } from './lua.ts';

/** One line of an app's output, as the API shows it. */
export interface LogLine {
  /** Stream entry id: increasing, usable to resume (`Last-Event-ID`). */
  id: string;
  /** The container that printed it. */
  instance: string;
  release: string;
  /** The process type of the container (core/formation.ts), from its name. */
  process: string;
  stream: 'stdout' | 'stderr';
  /** Docker's timestamp of the line (RFC 3339, nanoseconds, UTC). */
  timestamp: string;
  text: string;
}

export interface LineToAppend {
  stream: 'stdout' | 'stderr';
  timestamp: string;
  text: string;
}

/** Bounds of one app's log stream (GASPER_LOG_LINES, GASPER_LOG_MAX_BYTES, GASPER_LOG_LINE_MAX_BYTES). */
export interface LogLimits {
  /** Lines kept. */
  maxLines: number;
  /** Bytes kept, as `entryBytes` counts them: a few long lines must not hold as much as many short ones. */
  maxBytes: number;
  /** Longest line kept: a longer one is cut and ends with `… [truncated N bytes]`. */
  maxLineBytes: number;
}

export const defaultLogLimits: Readonly<LogLimits> = Object.freeze({
  maxLines: 10_000,
  maxBytes: 8 * 1024 * 1024,
  maxLineBytes: 8 * 1024,
});

/**
 * `text` cut to at most `maxBytes` bytes of UTF-8 (never inside a character), ending with
 * `… [truncated 12,345 bytes]` when anything was cut. `alreadyDropped`: bytes of the line
 * a reader threw away before (LineBuffer), counted in the mark.
 */
export function truncateLine(text: string, maxBytes: number, alreadyDropped = 0): string {
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes && alreadyDropped === 0) return text;
  const mark = (n: number) => `… [truncated ${n.toLocaleString('en-US')} bytes]`;
  // The mark's length depends on the count, which depends on the cut: size it for the most.
  const room = Math.max(0, maxBytes - Buffer.byteLength(mark(bytes + alreadyDropped)));
  const buffer = Buffer.from(text);
  let cut = Math.min(room, buffer.length);
  while (cut > 0 && cut < buffer.length && (buffer[cut]! & 0xc0) === 0x80) cut--;
  return buffer.subarray(0, cut).toString('utf8') + mark(buffer.length - cut + alreadyDropped);
}

export type RawEntry = [string, string[]];

export function toLine([id, fields]: RawEntry): LogLine {
  const get = (name: string) => {
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] ?? '';
    return '';
  };
  return {
    id,
    instance: get('i'),
    release: get('r'),
    process: processOfContainer(get('i'), get('r')),
    stream: get('s') === 'stderr' ? 'stderr' : 'stdout',
    timestamp: get('t'),
    text: get('m'),
  };
}

/**
 * An app's container output in Redis: one stream per app, within a line count and a byte
 * budget, long lines cut and marked (`limits`), written by the node workers, read by the API.
 */
export class AppLogStore {
  readonly limits: Readonly<LogLimits>;

  constructor(
    private readonly redis: Redis,
    limits: Partial<LogLimits> = {},
  ) {
    this.limits = { ...defaultLogLimits, ...limits };
  }

  private get maxLines(): number {
    return this.limits.maxLines;
  }

  /** False when the app no longer exists (nothing was written). */
  async append(
    app: string,
    source: { containerId: string; instance: string; release: string; cursor: string },
    lines: readonly LineToAppend[],
  ): Promise<boolean> {
    if (lines.length === 0) return true;
    const args = lines.flatMap((l) => [l.stream, l.timestamp, truncateLine(l.text, this.limits.maxLineBytes)]);
    const written = await this.redis.eval(
      appendLogLines,
      4,
      keys.app(app),
      keys.appLogs(app),
      keys.appLogCursors(app),
      keys.appLogBytes(app),
      this.limits.maxLines,
      this.limits.maxBytes,
      source.containerId,
      source.cursor,
      source.instance,
      source.release,
      ...args,
    );
    return written === 1;
  }

  /** Where collection of a container's output resumes (nanoseconds, as a string), if it ran before. */
  async cursor(app: string, containerId: string): Promise<string | undefined> {
    return (await this.redis.hget(keys.appLogCursors(app), containerId)) ?? undefined;
  }

  async forgetContainer(app: string, containerId: string): Promise<void> {
    await this.redis.hdel(keys.appLogCursors(app), containerId);
  }

  /**
   * The last `count` lines that `keep` keeps, oldest first, and the stream's last id (`0-0` when
   * empty) to follow from. Reads back page by page while lines are left out, at most the whole
   * capped stream.
   */
  async tail(
    app: string,
    count: number,
    keep: (line: LogLine) => boolean = () => true,
  ): Promise<{ lines: LogLine[]; lastId: string }> {
    const kept: LogLine[] = [];
    let lastId: string | undefined;
    let end = '+';
    for (let scanned = 0, page = Math.max(count, 1); ; page = Math.max(count, 500)) {
      const raw = (await this.redis.xrevrange(keys.appLogs(app), end, '-', 'COUNT', page)) as RawEntry[];
      lastId ??= raw[0]?.[0];
      for (const entry of raw) {
        if (kept.length === count) break;
        const line = toLine(entry);
        if (keep(line)) kept.push(line);
      }
      scanned += raw.length;
      if (kept.length >= count || raw.length < page || scanned >= this.maxLines) break;
      end = `(${raw.at(-1)![0]}`;
    }
    return { lines: kept.reverse(), lastId: lastId ?? '0-0' };
  }

  /** Up to `count` lines after `afterId`, oldest first, without waiting. */
  async after(app: string, afterId: string, count: number): Promise<LogLine[]> {
    return ((await this.redis.xrange(keys.appLogs(app), `(${afterId}`, '+', 'COUNT', count)) as RawEntry[]).map(toLine);
  }
}

/** Orders two stream ids (`<ms>-<seq>`): negative, zero or positive. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
