import { setMaxListeners } from 'node:events';
import type { Request, Response } from 'express';
import { Router } from 'express';
import { z } from 'zod';
import { findJob } from '../../jobs/status.ts';
import { isProbeLine } from '../../core/health-probe.ts';
import { processNamePattern } from '../../core/formation.ts';
import { processOfContainer } from '../../core/naming.ts';
import { AppLogStore, compareStreamIds, type LogLine } from '../../store/app-logs.ts';
import { AppMetricsStore } from '../../store/app-metrics.ts';
import { principalOf } from '../auth.ts';
import type { ApiDeps } from '../deps.ts';
import { holderOf, streamEndReason, type RevocationReason } from '../../core/session-revocation.ts';
import { AccessWatch } from '../../store/access-watch.ts';
import { appDeletedEvent, endEvent, EventStream } from '../event-stream.ts';
import { LogFollowHub } from '../log-follows.ts';
import { MetricsFollowHub } from '../metrics-follows.ts';
import { followMetrics } from './metrics-follow.ts';
import { ApiError, validationError } from '../errors.ts';
import { jobRef } from '../views.ts';
import { apiRoutes } from '../openapi/registry.ts';
import { visibleApp } from '../visible.ts';

const flag = z.enum(['1', '0', 'true', 'false']).transform((v) => v === '1' || v === 'true');
const logsQuery = z
  .object({
    tail: z.coerce.number().int().min(0).max(10_000).default(100),
    follow: flag.default(false),
    /** Lines of Gasper's health probes (core/health-probe.ts) are left out unless asked for. */
    probes: flag.default(false),
    /** Only the lines of one process type (`web`, `worker`…). */
    process: z.string().regex(processNamePattern, 'a process type such as web or worker').optional(),
  })
  .strict();
const metricsQuery = z.object({ follow: flag.default(false) }).strict();
const streamId = /^\d+-\d+$/;
const releaseName = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** How long a quiet follow waits before it sends a keep-alive and checks the app. */
const defaultFollowBlockMs = 15_000;
/** Lines handed to one follow and not sent yet, past which it reads them again from Redis itself. */
const maxHandedLines = 1000;

/**
 * Reads about an app's running life: its output (`/logs`, tail or follow), the build output of
 * a release (`/releases/:release/build-log`) and its instances' resource samples (`/metrics`).
 * All of it comes from Redis, where the node workers put it; nothing here talks to Docker.
 */
export function observabilityRouter(deps: ApiDeps): Router {
  const logs = new AppLogStore(deps.redis);
  const metrics = new AppMetricsStore(deps.redis);
  const follows = new LogFollowHub(deps.redis, {
    limits: { perUser: deps.options.logFollowsPerUser ?? 10, max: deps.options.logFollowsMax ?? 500 },
    blockMs: deps.options.logFollowBlockMs ?? defaultFollowBlockMs,
    log: deps.log,
  });
  const metricFollows = new MetricsFollowHub(deps.redis, deps.log);
  // Ends the follows of a caller who lost the app (transfer, deletion, token revoked) within a second.
  const access = new AccessWatch(deps.redis, { log: deps.log });
  if (deps.shutdown) {
    // Each open follow listens for the shutdown; their number is bounded by the caps above.
    setMaxListeners(0, deps.shutdown);
    deps.shutdown.addEventListener('abort', () => {
      follows.close();
      metricFollows.close();
      access.close();
    });
  }
  const router = Router();

  const load = (res: Response, name: string) => visibleApp(deps.apps, res, name);

  router.get('/:name/logs', async (req, res) => {
    const parsed = logsQuery.safeParse(req.query);
    if (!parsed.success) throw validationError(parsed.error);
    await load(res, req.params.name);
    const { tail, follow, probes, process: only } = parsed.data;
    const keep = (line: LogLine) =>
      (probes || !isProbeLine(line.text)) && (only === undefined || line.process === only);
    if (!follow) {
      const { lines } = await logs.tail(req.params.name, tail, keep);
      res.json({ lines: lines.map(publicLine) });
      return;
    }
    // A reconnecting EventSource says where it stopped; it gets what came after, not a new tail.
    const resumeFrom = req.get('last-event-id');
    if (resumeFrom !== undefined && streamId.test(resumeFrom)) return followLogs(req, res, [], resumeFrom, keep);
    const { lines, lastId } = await logs.tail(req.params.name, tail, keep);
    return followLogs(req, res, lines, lastId, keep);
  });

  /**
   * Server-sent events: one `data:` JSON line per log line, its stream id as the event id;
   * a comment every block period keeps proxies from closing an idle stream; `event: end` when
   * the app is deleted or the caller loses it (store/access-watch.ts). New lines come from the
   * process's shared reader (log-follows.ts); a follow that cannot keep up (a slow client) drops
   * what it was handed and reads on from its last id itself, so a slow client costs neither
   * memory nor lines.
   */
  async function followLogs(
    req: Request,
    res: Response,
    initial: LogLine[],
    afterId: string,
    keep: (line: LogLine) => boolean,
  ): Promise<void> {
    const app = req.params.name as string;
    const release = follows.admit(principalOf(res).user);
    let unsubscribe: (() => void) | undefined;
    let unwatch: (() => void) | undefined;
    let stream: EventStream | undefined;
    try {
      const events = new EventStream(res, deps.shutdown);
      stream = events;
      let revoked: RevocationReason | undefined;
      unwatch = access.watch(app, holderOf(principalOf(res)), (reason) => {
        revoked = reason;
        events.wake();
      });
      const send = async (text: string) => {
        if (res.write(text)) return;
        // Waits for either; the other listener goes too, or a slow client would pile them up.
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      };
      let lastId = afterId;
      // Lines the shared reader handed over, or, when too many waited, a note to read them again.
      let handed: LogLine[] = [];
      let behind = true; // first, whatever came between the tail and the subscription
      unsubscribe = await follows.subscribe(app, (lines) => {
        if (!behind) {
          handed.push(...lines);
          if (handed.length > maxHandedLines) {
            behind = true;
            handed = [];
          }
        }
        events.wake();
      });
      const sendLines = async (lines: LogLine[]) => {
        for (const line of lines) {
          if (!events.open || revoked) return;
          if (compareStreamIds(line.id, lastId) <= 0) continue;
          lastId = line.id;
          if (keep(line)) await send(sseEvent(line));
        }
      };
      for (const line of initial) await send(sseEvent(line));
      const blockMs = deps.options.logFollowBlockMs ?? defaultFollowBlockMs;
      while (events.open) {
        if (revoked) {
          await send(endEvent(streamEndReason(revoked)));
          break;
        }
        if (behind) {
          behind = false;
          handed = [];
          const page = await logs.after(app, lastId, 500);
          if (page.length === 500) behind = true;
          await sendLines(page);
          continue;
        }
        if (handed.length > 0) {
          const batch = handed;
          handed = [];
          await sendLines(batch);
          continue;
        }
        if (await events.wait(blockMs)) continue;
        if (!(await deps.apps.get(app))) {
          await send(appDeletedEvent);
          break;
        }
        await send(': keep-alive\n\n');
      }
    } catch (err) {
      if (stream?.open !== false) deps.log.warn({ err: (err as Error).message, app }, 'log follow failed');
    } finally {
      unsubscribe?.();
      unwatch?.();
      release();
      if (stream) stream.end();
      else res.end();
    }
  }

  router.get('/:name/releases/:release/build-log', async (req, res) => {
    const { name, release } = req.params;
    if (!releaseName.test(release)) {
      throw new ApiError('VALIDATION_FAILED', 'invalid request: release: not a release id', {
        release: 'not a release id',
      });
    }
    const doc = await load(res, name);
    const id = `deploy-${name}-${doc.uid}-${release}`;
    const job = await findJob(deps.redis, deps.queues, id);
    if (!job)
      throw new ApiError(
        'NOT_FOUND',
        `no build log for release ${release} of "${name}" (deploy jobs are kept a day, failed ones a week)`,
      );
    const [state, { logs: log }] = await Promise.all([
      job.getState(),
      deps.queues.byName(job.queueName).getJobLogs(id, 0, -1),
    ]);
    res.json({ release, job: { ...jobRef(id), state }, log });
  });

  router.get('/:name/metrics', async (req, res) => {
    const parsed = metricsQuery.safeParse(req.query);
    if (!parsed.success) throw validationError(parsed.error);
    await load(res, req.params.name);
    if (!parsed.data.follow) {
      const instances = await metrics.list(req.params.name);
      res.json({
        app: req.params.name,
        instances: instances.map((i) => ({ ...i, process: processOfContainer(i.instance, i.release) })),
      });
      return;
    }
    // Counted with the log follows, under their limits: both hold a stream open on this process.
    await followMetrics(req.params.name, res, {
      deps,
      hub: metricFollows,
      watch: (onRevoked) => access.watch(req.params.name, holderOf(principalOf(res)), onRevoked),
      store: metrics,
      admit: () => follows.admit(principalOf(res).user),
      blockMs: deps.options.logFollowBlockMs ?? defaultFollowBlockMs,
    });
  });

  return router;
}

function publicLine(line: LogLine) {
  return {
    id: line.id,
    instance: line.instance,
    release: line.release,
    process: line.process,
    stream: line.stream,
    timestamp: line.timestamp,
    text: line.text,
  };
}

function sseEvent(line: LogLine): string {
  return `id: ${line.id}\ndata: ${JSON.stringify(publicLine(line))}\n\n`;
}

const logLineSchema = z.object({
  id: z.string(),
  instance: z.string(),
  release: z.string(),
  process: z.string().describe('the process type of the container: web, worker…'),
  stream: z.string(),
  timestamp: z.string(),
  text: z.string(),
});
const appName = { name: 'the app name' };
apiRoutes.add(
  {
    method: 'get',
    path: '/apps/:name/logs',
    summary: "The app's output: the last lines, or a live follow",
    tags: ['observability'],
    auth: 'admin',
    params: appName,
    description:
      "Query: `tail` (0–10000, default 100), `follow=1` for server-sent events (`text/event-stream`, resumable with `Last-Event-ID`), `probes=1` to include the lines of Gasper's health probes (those with `gasper-health/1`, left out by default), `process=worker` for the lines of one process type only. A follow ends with `event: end` `{reason}`: `app deleted`, or `access revoked` within about a second of the caller losing the app (transfer, token revoked, user deleted).",
    responses: {
      200: {
        description: 'the last lines (or an event stream with follow=1)',
        schema: z.object({ lines: z.array(logLineSchema) }),
      },
      404: { description: 'no such app' },
    },
  },
  {
    method: 'get',
    path: '/apps/:name/releases/:release/build-log',
    summary: "A release's deploy job log (clone, build output, timings)",
    tags: ['observability'],
    auth: 'admin',
    params: { ...appName, release: 'the release id (r000001)' },
    responses: {
      200: {
        description: 'the log',
        schema: z.object({
          release: z.string(),
          job: z.object({ id: z.string(), url: z.string(), state: z.string() }),
          log: z.array(z.string()),
        }),
      },
      404: { description: 'no such release, or its job is no longer kept' },
    },
  },
  {
    method: 'get',
    path: '/apps/:name/metrics',
    summary: 'CPU (percent of the limit) and memory per instance, with a short history, or a live follow',
    tags: ['observability'],
    auth: 'admin',
    params: appName,
    description:
      'Query: `follow=1` for server-sent events (`text/event-stream`): `event: instances` with this answer, then one event ' +
      'per new sample `{instance, node, release, sample}` as the node worker stores it, `event: removed` `{removed}` when ' +
      'instances stop, a keep-alive comment when quiet, `event: end` `{reason}` when the app is deleted or the caller loses it (as a log follow). Follows count with log ' +
      'follows (`GASPER_LOG_FOLLOWS_PER_USER`, `GASPER_LOG_FOLLOWS_MAX`).',
    responses: {
      200: { description: 'samples per instance (or an event stream with follow=1)' },
      400: { description: 'an unknown query parameter, or `follow` not 0/1/true/false' },
      404: { description: 'no such app' },
      429: { description: 'too many follows open (per user or in all)' },
    },
  },
);
