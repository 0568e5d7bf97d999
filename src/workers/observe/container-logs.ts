import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from '../../core/log.ts';
import { containerLabels } from '../../core/naming.ts';
import type { AppLogStore, LineToAppend } from '../../store/app-logs.ts';
import { LineBuffer, parseTimedLine, sinceParameter, timestampNanos } from './log-lines.ts';

type OutputKind = 'stdout' | 'stderr';

/** Which app and instance a container's lines belong to, as its labels and name say. */
interface AppContainer {
  app: string;
  source: { containerId: string; instance: string; release: string };
  tty: boolean;
}

/** The container as the collector sees it; undefined when it is not a running app container. */
async function inspectAppContainer(docker: Docker, id: string): Promise<AppContainer | undefined> {
  const info = await docker.getContainer(id).inspect();
  const labels = info.Config.Labels ?? {};
  const app = labels[containerLabels.app];
  if (labels[containerLabels.role] !== 'app' || !app || !info.State.Running) return undefined;
  return {
    app,
    source: {
      containerId: id,
      instance: info.Name.replace(/^\//, ''),
      release: labels[containerLabels.release] ?? '',
    },
    tty: Boolean(info.Config.Tty),
  };
}

/** The container's output from its resume point on (or from its start), with timestamps. */
async function openOutput(docker: Docker, id: string, resumeAfter: bigint | undefined): Promise<Readable> {
  return (await docker.getContainer(id).logs({
    follow: true,
    stdout: true,
    stderr: true,
    timestamps: true,
    ...(resumeAfter !== undefined ? { since: sinceParameter(resumeAfter) as unknown as number } : {}),
  })) as unknown as Readable;
}

/**
 * Writes one container's lines to its app's stream in batches (one round trip per burst, not per
 * line), in order, each batch moving the container's resume point to its newest line.
 */
class BatchWriter {
  private pending: LineToAppend[] = [];
  private writing: Promise<void> = Promise.resolve();
  private scheduled = false;
  private failed = false;
  private newest: bigint;

  constructor(
    private readonly store: AppLogStore,
    private readonly container: AppContainer,
    private readonly resumeAfter: bigint | undefined,
    /** Called once when a batch cannot be stored: the follow should end (and be resumed later). */
    private readonly onFailure: (err: Error) => void,
  ) {
    this.newest = resumeAfter ?? 0n;
  }

  /** Queues complete lines of one output; writes at once past 500 lines, else on the next turn. */
  take(kind: OutputKind, lines: readonly string[]): void {
    for (const raw of lines) {
      const line = parseTimedLine(raw, new Date().toISOString(), this.store.limits.maxLineBytes);
      const nanos = timestampNanos(line.timestamp);
      // Docker's `since` is inclusive: the last line already stored comes again.
      if (nanos !== undefined && this.resumeAfter !== undefined && nanos <= this.resumeAfter) continue;
      if (nanos !== undefined && nanos > this.newest) this.newest = nanos;
      this.pending.push({ stream: kind, ...line });
    }
    if (this.pending.length >= 500) this.flush();
    else if (!this.scheduled && this.pending.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends what is queued after the batches before it. */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    const cursor = String(this.newest);
    const { app, source } = this.container;
    this.writing = this.writing.then(async () => {
      // After a failed batch, no later one may move the cursor past the lines it lost.
      if (batch.length === 0 || this.failed) return;
      try {
        await this.store.append(app, { ...source, cursor }, batch);
      } catch (err) {
        // The cursor did not move: ending the follow lets the next resync re-read these lines.
        this.failed = true;
        this.onFailure(err as Error);
      }
    });
  }

  /** Flushes and waits for every batch. */
  async finish(): Promise<void> {
    this.flush();
    await this.writing;
  }
}

/** Splits the output into lines per stream (demultiplexed unless the container has a TTY) until it ends. */
async function readLines(
  docker: Docker,
  output: Readable,
  container: AppContainer,
  maxLineBytes: number,
  writer: BatchWriter,
): Promise<void> {
  const outputs = { stdout: new PassThrough(), stderr: new PassThrough() };
  const drained = (['stdout', 'stderr'] as const).map((kind) => {
    const buffer = new LineBuffer(maxLineBytes);
    outputs[kind].setEncoding('utf8');
    outputs[kind].on('data', (chunk: string) => writer.take(kind, buffer.push(chunk)));
    return new Promise<void>((resolve) => outputs[kind].once('end', () => resolve(writer.take(kind, buffer.flush()))));
  });
  if (container.tty) output.pipe(outputs.stdout, { end: false });
  else docker.modem.demuxStream(output, outputs.stdout, outputs.stderr);
  await new Promise<void>((resolve) => {
    output.once('end', resolve);
    output.once('close', resolve);
    output.once('error', resolve);
  });
  outputs.stdout.end();
  outputs.stderr.end();
  await Promise.all(drained);
}

/**
 * Follows one app container's output into its app's log stream until the output ends (the
 * container stopped, or a write failed), from the resume point kept in Redis, so a restarted
 * worker or a follow ended by a failed write picks up where it stopped, without duplicates and
 * without gaps. `opened` gets the output stream as soon as there is one (closing destroys it).
 * A container that is not a running app container is skipped.
 */
export async function followContainerLogs(
  id: string,
  deps: { docker: Docker; store: AppLogStore; log: Logger },
  opened: (output: Readable) => void,
): Promise<void> {
  const { docker, store, log } = deps;
  const container = await inspectAppContainer(docker, id);
  if (!container) return;
  const stored = await store.cursor(container.app, id);
  const resumeAfter = stored ? BigInt(stored) : undefined;
  const output = await openOutput(docker, id, resumeAfter);
  opened(output);
  const writer = new BatchWriter(store, container, resumeAfter, (err) => {
    log.warn({ err: err.message, container: container.source.instance }, 'cannot store log lines; will resume');
    output.destroy();
  });
  await readLines(docker, output, container, store.limits.maxLineBytes, writer);
  await writer.finish();
}
