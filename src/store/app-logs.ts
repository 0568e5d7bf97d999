import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';

/** One line of an app's output, as the API shows it. */
export interface LogLine {
  /** Stream entry id: increasing, usable to resume (`Last-Event-ID`). */
  id: string;
  /** The container that printed it. */
  instance: string;
  release: string;
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

/**
 * Appends only while the app exists, so a line collected while the app is being deleted cannot
 * bring its keys back; moves the container's resume point in the same step.
 * KEYS: app, logs, cursors. ARGV: maxlen, container id, cursor, instance, release, then
 * (stream, timestamp, text) per line.
 */
const appendScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 6, #ARGV, 3 do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'i', ARGV[4], 'r', ARGV[5], 's', ARGV[i], 't', ARGV[i + 1], 'm', ARGV[i + 2])
end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
return 1`;

type RawEntry = [string, string[]];

function toLine([id, fields]: RawEntry): LogLine {
  const get = (name: string) => {
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] ?? '';
    return '';
  };
  return { id, instance: get('i'), release: get('r'), stream: get('s') === 'stderr' ? 'stderr' : 'stdout', timestamp: get('t'), text: get('m') };
}

/**
 * An app's container output in Redis: one capped stream per app (`maxLines`, trimmed
 * approximately, which is cheap), written by the node workers, read by the API.
 */
export class AppLogStore {
  constructor(private readonly redis: Redis, private readonly maxLines = 10_000) {}

  /** False when the app no longer exists (nothing was written). */
  async append(
    app: string,
    source: { containerId: string; instance: string; release: string; cursor: string },
    lines: readonly LineToAppend[],
  ): Promise<boolean> {
    if (lines.length === 0) return true;
    const args = lines.flatMap((l) => [l.stream, l.timestamp, l.text]);
    const written = await this.redis.eval(
      appendScript, 3, keys.app(app), keys.appLogs(app), keys.appLogCursors(app),
      this.maxLines, source.containerId, source.cursor, source.instance, source.release, ...args,
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
  async tail(app: string, count: number, keep: (line: LogLine) => boolean = () => true): Promise<{ lines: LogLine[]; lastId: string }> {
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

  /**
   * Lines after `afterId`, waiting up to `blockMs` for some: null on time-out. `connection` must
   * be one of its own, since a blocking read holds it.
   */
  static async readAfter(connection: Redis, app: string, afterId: string, blockMs: number): Promise<LogLine[] | null> {
    const reply = (await connection.xread('COUNT', 500, 'BLOCK', blockMs, 'STREAMS', keys.appLogs(app), afterId)) as
      | [string, RawEntry[]][]
      | null;
    return reply ? reply.flatMap(([, entries]) => entries.map(toLine)) : null;
  }
}
