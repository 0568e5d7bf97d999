import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { scopeFilter, type DockerScope } from '../../core/installation.ts';
import type { Logger } from '../../core/log.ts';
import { containerLabels } from '../../core/naming.ts';
import type { AppLogStore, LineToAppend } from '../../store/app-logs.ts';
import { LineBuffer, parseTimedLine, sinceParameter, timestampNanos } from './log-lines.ts';

export interface LogCollectorOptions {
  /** Whose containers to observe: this installation's, on this node. */
  scope: DockerScope;
  /** How often running containers are listed, to catch any a missed event would hide. Default 30 s. */
  resyncMs?: number;
}

export interface LogCollectorHandle {
  /** Ids of the containers whose output is being followed. */
  following(): string[];
  /** Lists running containers now and follows any not followed yet. */
  resync(): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FollowEntry {
  stream?: Readable;
  done: Promise<void>;
  /** Follow again when this one ends (the container started again meanwhile). */
  again: boolean;
}

/**
 * Follows the output of this node's app containers into each app's log stream in Redis. It
 * finds them by Gasper's labels, from Docker events (a container starts: follow it) and a
 * periodic resync, so it does not depend on how or when the deploy pipeline creates them.
 * Each container's resume point (the timestamp of its last collected line) is kept in Redis:
 * a restarted worker, or a follow ended by a failed write, picks up where it stopped, without
 * duplicates and without gaps.
 */
export function startLogCollector(
  options: LogCollectorOptions,
  deps: { docker: Docker; store: AppLogStore; log: Logger },
): LogCollectorHandle {
  const { docker, store } = deps;
  const log = deps.log.child({ component: 'log-collector' });
  const labelFilter = scopeFilter(options.scope);
  const followed = new Map<string, FollowEntry>();
  let closing = false;
  let events: Readable | undefined;

  async function followContainer(id: string): Promise<void> {
    const container = docker.getContainer(id);
    const info = await container.inspect();
    const labels = info.Config.Labels ?? {};
    const app = labels[containerLabels.app];
    if (labels[containerLabels.role] !== 'app' || !app || !info.State.Running) return;
    const source = {
      containerId: id,
      instance: info.Name.replace(/^\//, ''),
      release: labels[containerLabels.release] ?? '',
    };
    const stored = await store.cursor(app, id);
    const resumeAfter = stored ? BigInt(stored) : undefined;
    const stream = (await container.logs({
      follow: true,
      stdout: true,
      stderr: true,
      timestamps: true,
      ...(resumeAfter !== undefined ? { since: sinceParameter(resumeAfter) as unknown as number } : {}),
    })) as unknown as Readable;
    const entry = followed.get(id);
    if (entry) entry.stream = stream;
    if (closing) stream.destroy();

    let newest = resumeAfter ?? 0n;
    let pending: LineToAppend[] = [];
    let writing: Promise<void> = Promise.resolve();
    let scheduled = false;
    let failed = false;
    // Lines are written in batches (one round trip per burst, not per line), in order.
    const write = () => {
      scheduled = false;
      const batch = pending;
      pending = [];
      const cursor = String(newest);
      writing = writing.then(async () => {
        // After a failed batch, no later one may move the cursor past the lines it lost.
        if (batch.length === 0 || failed) return;
        try {
          await store.append(app, { ...source, cursor }, batch);
        } catch (err) {
          // The cursor did not move: ending the follow lets the next resync re-read these lines.
          failed = true;
          log.warn({ err: (err as Error).message, container: source.instance }, 'cannot store log lines; will resume');
          stream.destroy();
        }
      });
    };
    const take = (kind: 'stdout' | 'stderr', lines: string[]) => {
      for (const raw of lines) {
        const line = parseTimedLine(raw, new Date().toISOString(), store.limits.maxLineBytes);
        const nanos = timestampNanos(line.timestamp);
        // Docker's `since` is inclusive: the last line already stored comes again.
        if (nanos !== undefined && resumeAfter !== undefined && nanos <= resumeAfter) continue;
        if (nanos !== undefined && nanos > newest) newest = nanos;
        pending.push({ stream: kind, ...line });
      }
      if (pending.length >= 500) write();
      else if (!scheduled && pending.length > 0) {
        scheduled = true;
        setImmediate(write);
      }
    };
    const outputs = { stdout: new PassThrough(), stderr: new PassThrough() };
    const drained = (['stdout', 'stderr'] as const).map((kind) => {
      const buffer = new LineBuffer(store.limits.maxLineBytes);
      outputs[kind].setEncoding('utf8');
      outputs[kind].on('data', (chunk: string) => take(kind, buffer.push(chunk)));
      return new Promise<void>((resolve) => outputs[kind].once('end', () => resolve(take(kind, buffer.flush()))));
    });
    if (info.Config.Tty) stream.pipe(outputs.stdout, { end: false });
    else docker.modem.demuxStream(stream, outputs.stdout, outputs.stderr);
    await new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', resolve);
    });
    outputs.stdout.end();
    outputs.stderr.end();
    await Promise.all(drained);
    write();
    await writing;
  }

  /**
   * Follows a container until its output ends (it stopped). A call while it is followed only
   * asks for another follow once this one ends: a container Docker restarts emits `start` while
   * the follow of its previous run may still be draining.
   */
  function follow(id: string): void {
    if (closing) return;
    const current = followed.get(id);
    if (current) {
      current.again = true;
      return;
    }
    const entry: FollowEntry = { done: Promise.resolve(), again: false };
    followed.set(id, entry);
    entry.done = followContainer(id)
      .catch((err) => {
        if ((err as { statusCode?: number }).statusCode !== 404)
          log.warn({ err: (err as Error).message, container: id }, 'cannot follow container output');
      })
      .finally(() => {
        followed.delete(id);
        if (entry.again) follow(id);
      });
  }

  async function resync(): Promise<void> {
    const running = await docker.listContainers({
      filters: { label: [...labelFilter, `${containerLabels.role}=app`], status: ['running'] },
    });
    running.forEach((c) => follow(c.Id));
  }

  const watching = (async () => {
    while (!closing) {
      try {
        const stream = (await docker.getEvents({
          filters: { type: ['container'], event: ['start', 'destroy'], label: labelFilter },
        })) as unknown as Readable;
        events = stream;
        if (closing) stream.destroy();
        // Whatever started while no event stream was open is found by listing.
        await resync();
        // Events are small JSON lines; the bound only keeps a broken stream from growing one without end.
        const buffer = new LineBuffer(1024 * 1024);
        stream.setEncoding('utf8');
        for await (const chunk of stream) {
          for (const line of buffer.push(chunk as string)) {
            let event: {
              status?: string;
              Action?: string;
              id?: string;
              Actor?: { Attributes?: Record<string, string> };
            };
            try {
              event = JSON.parse(line);
            } catch {
              continue;
            }
            const action = event.Action ?? event.status;
            if (action === 'start' && event.id) follow(event.id);
            const app = event.Actor?.Attributes?.[containerLabels.app];
            if (action === 'destroy' && event.id && app) await store.forgetContainer(app, event.id).catch(() => {});
          }
        }
      } catch (err) {
        if (!closing) log.warn({ err: (err as Error).message }, 'docker event stream failed; reconnecting');
      }
      if (!closing) await sleep(1000);
    }
  })();

  const timer = setInterval(() => {
    resync().catch((err) => log.warn({ err: (err as Error).message }, 'log resync failed'));
  }, options.resyncMs ?? 30_000);
  timer.unref();

  let closed: Promise<void> | undefined;
  return {
    following: () => [...followed].filter(([, entry]) => entry.stream).map(([id]) => id),
    resync,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(timer);
        events?.destroy();
        for (const entry of followed.values()) entry.stream?.destroy();
        await Promise.allSettled([watching, ...[...followed.values()].map((e) => e.done)]);
      })();
      return closed;
    },
  };
}
