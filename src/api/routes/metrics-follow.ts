import type { Response } from 'express';
import type { LiveMetricsMessage } from '../../store/app-metrics.ts';
import type { AppMetricsStore } from '../../store/app-metrics.ts';
import type { ApiDeps } from '../deps.ts';
import { streamEndReason, type RevocationReason } from '../../core/session-revocation.ts';
import { appDeletedEvent, endEvent, EventStream } from '../event-stream.ts';
import { newerThanSnapshot, type MetricsFollowHub } from '../metrics-follows.ts';

/** Bytes waiting for a slow client past which live samples are skipped rather than queued. */
const maxBufferedBytes = 64 * 1024;

export interface MetricsFollowContext {
  deps: ApiDeps;
  hub: MetricsFollowHub;
  store: AppMetricsStore;
  /** Watches the caller's access to the app (store/access-watch.ts); returns the function that stops. */
  watch: (onRevoked: (reason: RevocationReason) => void) => () => void;
  /** Counts the follow against the caller's limits (throws 429); returns the release. */
  admit: () => () => void;
  /** Quiet period after which a keep-alive comment is sent and the app checked. */
  blockMs: number;
}

/**
 * `GET /apps/:name/metrics?follow=1`, server-sent events: first `event: instances` with what
 * `GET /apps/:name/metrics` answers (each instance's recent samples), then one unnamed event per
 * new sample `{instance, node, release, sample}`, `event: removed` `{removed: [instances]}` when
 * instances stop, a `: keep-alive` comment every quiet `blockMs`, and `event: end` when the
 * app is deleted or the caller loses it (`watch`). Samples are live readings, not a log: a
 * client too slow to take them skips some (nothing queues without bound) and a reconnection
 * starts again from the snapshot.
 */
export async function followMetrics(app: string, res: Response, ctx: MetricsFollowContext): Promise<void> {
  const { deps, hub, store } = ctx;
  const release = ctx.admit();
  let unsubscribe: (() => void) | undefined;
  let unwatch: (() => void) | undefined;
  let stream: EventStream | undefined;
  try {
    const events = new EventStream(res, deps.shutdown);
    stream = events;
    let revoked: RevocationReason | undefined;
    unwatch = ctx.watch((reason) => {
      revoked = reason;
      events.wake();
    });
    const send = (text: string, droppable: boolean) => {
      if (
        !events.open ||
        (revoked && !text.startsWith('event: end')) ||
        (droppable && res.writableLength > maxBufferedBytes)
      )
        return;
      res.write(text);
    };
    // Subscribed before the snapshot is read, so no sample falls between the two.
    const pending: LiveMetricsMessage[] = [];
    let ready = false;
    let fresh = (_instance: string, _at: string) => true;
    const deliver = (message: LiveMetricsMessage) => {
      if (!ready) {
        pending.push(message);
        return;
      }
      if ('removed' in message) send(`event: removed\ndata: ${JSON.stringify(message)}\n\n`, false);
      else if (fresh(message.instance, message.sample.at)) send(`data: ${JSON.stringify(message)}\n\n`, true);
      events.wake();
    };
    unsubscribe = await hub.subscribe(app, deliver);
    const snapshot = await store.list(app);
    fresh = newerThanSnapshot(snapshot);
    send(`event: instances\ndata: ${JSON.stringify({ app, instances: snapshot })}\n\n`, false);
    ready = true;
    for (const message of pending.splice(0)) deliver(message);

    while (events.open) {
      if (revoked) {
        send(endEvent(streamEndReason(revoked)), false);
        break;
      }
      if (await events.wait(ctx.blockMs)) continue;
      if (!(await deps.apps.get(app))) {
        send(appDeletedEvent, false);
        break;
      }
      send(': keep-alive\n\n', false);
    }
  } catch (err) {
    if (stream?.open !== false) deps.log.warn({ err: (err as Error).message, app }, 'metrics follow failed');
  } finally {
    unsubscribe?.();
    unwatch?.();
    release();
    if (stream) stream.end();
    else res.end();
  }
}
