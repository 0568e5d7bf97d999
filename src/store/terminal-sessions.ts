import type { Redis } from 'ioredis';
import { z } from 'zod';
import { keys } from '../core/keys.ts';
import { endTerminalSession } from './lua.ts';

/** Sessions kept per app: the latest ones, older ones are dropped as new ones start. */
export const terminalSessionsKept = 100;

/** One web-terminal session, as the audit keeps it. Times are ISO 8601. */
export const terminalSessionSchema = z.object({
  id: z.string(),
  user: z.string(),
  app: z.string(),
  /** Index of the instance in the app's list when the session started, and its container and node. */
  instance: z.number().int().min(0),
  container: z.string(),
  node: z.string(),
  /** The address that asked the API for the ticket. */
  remote: z.string().optional(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  exitCode: z.number().int().optional(),
});
export type TerminalSession = z.infer<typeof terminalSessionSchema>;

/**
 * The audit of an app's web-terminal sessions: a sorted set of JSON records scored by start
 * time. A session is written when it starts and rewritten when it ends, so one that never ended
 * (its SSH service died) still shows, without an end.
 */
export class TerminalSessionStore {
  constructor(private readonly redis: Redis) {}

  async started(session: TerminalSession): Promise<void> {
    const key = keys.appTerminalSessions(session.app);
    await this.redis
      .multi()
      .zadd(key, Date.parse(session.startedAt), JSON.stringify(terminalSessionSchema.parse(session)))
      .zremrangebyrank(key, 0, -(terminalSessionsKept + 1))
      .exec();
  }

  /** Replaces the start record with the finished one (kept only if the start record still is). */
  async ended(started: TerminalSession, end: { endedAt: string; exitCode?: number }): Promise<void> {
    const key = keys.appTerminalSessions(started.app);
    const before = JSON.stringify(terminalSessionSchema.parse(started));
    const after = JSON.stringify(terminalSessionSchema.parse({ ...started, ...end }));
    await this.redis.eval(endTerminalSession, 1, key, before, String(Date.parse(started.startedAt)), after);
  }

  /** The latest sessions first. */
  async list(app: string, limit = terminalSessionsKept): Promise<TerminalSession[]> {
    const raw = await this.redis.zrevrange(keys.appTerminalSessions(app), 0, limit - 1);
    return raw.flatMap((r) => {
      const parsed = terminalSessionSchema.safeParse(JSON.parse(r));
      return parsed.success ? [parsed.data] : [];
    });
  }
}
