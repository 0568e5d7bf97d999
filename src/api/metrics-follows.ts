import type { Redis } from 'ioredis';
import { keys } from '../core/keys.ts';
import type { Logger } from '../core/log.ts';
import { liveMetricsMessageSchema, type InstanceMetrics, type LiveMetricsMessage } from '../store/app-metrics.ts';

type Deliver = (message: LiveMetricsMessage) => void;

/**
 * The metrics follows of one API process. Node workers publish each sample on the app's channel
 * in the same step as they store it (store/app-metrics.ts); one subscriber connection, opened
 * with the first follow and closed with the last, listens to the channels of the followed apps
 * and hands each message to their follows. No polling: a sample reaches the browser as soon as
 * it is stored, and a quiet app costs nothing. Follows are counted with the log follows
 * (log-follows.ts `admit`), under the same limits.
 */
export class MetricsFollowHub {
  private readonly followers = new Map<string, Set<Deliver>>();
  private subscriber: Redis | undefined;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  /**
   * Calls `deliver` with each message published for `app` once the returned promise resolves
   * (the subscription is then in place). Returns the function that stops it.
   */
  async subscribe(app: string, deliver: Deliver): Promise<() => void> {
    if (this.closed) throw new Error('metrics follows are closed');
    const subscriber = this.open();
    const channel = keys.appMetricsLive(app);
    let set = this.followers.get(channel);
    if (!set) {
      set = new Set();
      this.followers.set(channel, set);
    }
    set.add(deliver);
    const thisSet = set;
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      thisSet.delete(deliver);
      if (thisSet.size > 0 || this.followers.get(channel) !== thisSet) return;
      this.followers.delete(channel);
      if (this.followers.size === 0) this.stopSubscriber();
      else subscriber.unsubscribe(channel).catch(() => {});
    };
    try {
      // A second follow of the app waits for the same SUBSCRIBE: Redis answers in order.
      await subscriber.subscribe(channel);
    } catch (err) {
      stop();
      throw err;
    }
    return stop;
  }

  close(): void {
    this.closed = true;
    this.followers.clear();
    this.stopSubscriber();
  }

  /** Subscribers currently open (0 or 1): what a test checks to see follows let go. */
  get connections(): number {
    return this.subscriber ? 1 : 0;
  }

  private open(): Redis {
    if (this.subscriber) return this.subscriber;
    const subscriber = this.redis.duplicate({ connectionName: 'gasper-metrics-follow' });
    subscriber.on('error', (err) => this.log.warn({ err: err.message }, 'metrics follow subscriber error'));
    subscriber.on('message', (channel: string, raw: string) => {
      const set = this.followers.get(channel);
      if (!set) return;
      let message: LiveMetricsMessage;
      try {
        message = liveMetricsMessageSchema.parse(JSON.parse(raw));
      } catch {
        return; // not ours to understand; the next sample will do
      }
      for (const deliver of set) deliver(message);
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  private stopSubscriber(): void {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    subscriber?.disconnect();
  }
}

/**
 * Whether a live sample is news to a follow that began with `snapshot`: one published between
 * the subscription and the snapshot's read is in both, and is sent once.
 */
export function newerThanSnapshot(snapshot: readonly InstanceMetrics[]): (instance: string, at: string) => boolean {
  const last = new Map(snapshot.map((i) => [i.instance, i.samples.at(-1)?.at ?? '']));
  return (instance, at) => {
    const seen = last.get(instance);
    if (seen !== undefined && at <= seen) return false;
    last.set(instance, at);
    return true;
  };
}
