import crypto from 'node:crypto';
import type { Duplex } from 'node:stream';
import { runContainerName } from '../core/naming.ts';
import { ensureImage, removeContainer } from '../docker/containers.ts';
import type { NodeStore } from '../store/nodes.ts';
import type { RunSessionStore } from '../store/run-sessions.ts';
import type { WorkerContext } from '../workers/context.ts';
import { createRunContainer } from '../workers/apps/one-off.ts';
import { checkReleaseImage, planForRelease } from '../workers/apps/release-plan.ts';
import { keepOpen, relay, type ContainerExec } from './container-exec.ts';
import { runSessionPlace } from './target.ts';

/**
 * `ssh <app>.run@host`: a session in a NEW one-off container of the app's current release, not
 * in a serving instance. The container is the one `POST /apps/:name/run` would create (the
 * worker's own `createRunContainer`, from the release's plan: image, env with linked databases'
 * URLs, mounts, limits, hardening, networks, labels), with stdin open and a TTY when the client
 * asked for one; its command is the client's, else a shell. It is removed when the command exits
 * or the client goes away. While it lives its lease in Redis (store/run-sessions.ts) keeps the
 * node's reconciliation from taking it for a dead job's; should this service die, the lease
 * runs out and the reconciliation removes it.
 */
export interface RunSessionDeps {
  /** What the worker's one-off code needs, built by the SSH service (index.ts) for this node. */
  ctx: WorkerContext;
  nodes: NodeStore;
  leases: RunSessionStore;
  /** This service's port, for the message that sends a client to another node. */
  sshPort: number;
  /** How long a lease lasts unrenewed; renewed every third of it. Default 60 s. */
  leaseMs?: number;
}

export type RunSessionStart = { ok: true; exec: ContainerExec; container: string } | { ok: false; problem: string };

/** bash where the image has it, else sh: what a session without a command opens. */
const shell = 'if [ -x /bin/bash ]; then exec /bin/bash; fi; exec /bin/sh';

export async function startRunSession(
  deps: RunSessionDeps,
  request: { app: string; command: string | undefined; pty?: { term: string; cols: number; rows: number } },
): Promise<RunSessionStart> {
  const { ctx } = deps;
  const { docker } = ctx;
  const doc = await ctx.apps.get(request.app);
  if (!doc || doc.status === 'deleting') return { ok: false, problem: `app "${request.app}" not found` };
  const place = runSessionPlace(
    doc,
    { nodeId: ctx.options.nodeId, sshPort: deps.sshPort },
    (await deps.nodes.list()).map((n) => ({ id: n.id, address: n.address })),
  );
  if (!place.ok) return place;
  const release = doc.release!;
  const plan = await planForRelease(ctx, doc, release, await ctx.records.get(doc.name, release));
  try {
    await checkReleaseImage(ctx, plan);
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
  if (!plan.fromImage) await ensureImage(docker, plan.image);

  const name = runContainerName(ctx.scope.installation, doc.name, `ssh-${crypto.randomUUID()}`);
  const leaseMs = deps.leaseMs ?? 60_000;
  // The lease is taken before the container exists, so no reconciliation ever sees it without one.
  await deps.leases.renew(name, leaseMs);
  const renewal = setInterval(() => {
    deps.leases
      .renew(name, leaseMs)
      .catch((err: Error) => ctx.log.warn({ err, container: name }, 'could not renew a run session lease'));
  }, leaseMs / 3);
  renewal.unref();
  let removing: Promise<void> | undefined;
  const remove = () =>
    (removing ??= (async () => {
      clearInterval(renewal);
      await removeContainer(docker, name).catch((err: Error) =>
        ctx.log.warn({ err, container: name }, 'could not remove a run session container'),
      );
      await deps.leases.release(name).catch(() => undefined);
    })());

  try {
    const tty = request.pty !== undefined;
    const container = await createRunContainer(ctx, {
      name,
      plan,
      command: request.command ?? shell,
      interactive: { tty, session: 'ssh' },
      env: request.pty ? { TERM: request.pty.term || 'xterm' } : {},
    });
    // Attached before the start, so not a byte of output is missed.
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as Duplex;
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    await container.start();
    let exited = false;
    const resize = async (cols: number, rows: number) => {
      if (!tty || exited) return;
      await container.resize({ w: Math.max(1, cols), h: Math.max(1, rows) }).catch(() => {
        // The command may have just exited: nothing left to resize.
      });
    };
    if (request.pty) await resize(request.pty.cols, request.pty.rows);
    const exec: ContainerExec = {
      // As in an exec session: a PTY's EOF is ^D in the data, and Docker ending a TTY's stdin
      // would close its output before the command printed all of it (container-exec.ts).
      stdin: tty ? keepOpen(stream) : stream,
      async run(stdout, stderr) {
        try {
          const out = relay(stdout);
          const err = relay(stderr);
          if (tty) stream.on('data', (chunk: Buffer) => out.write(chunk));
          else docker.modem.demuxStream(stream, out, err);
          const status = await container.wait().then(
            (r: { StatusCode?: number }) => r.StatusCode ?? 255,
            () => 255,
          );
          exited = true;
          // The output after the exit is still in flight for a moment; a stream that never ends is not waited for.
          await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
          const gone = new Promise<void>((resolve) =>
            stdout.destroyed ? resolve() : stdout.once('close', () => resolve()),
          );
          await Promise.race([Promise.all([out.flushed(), err.flushed()]), gone]);
          return status;
        } finally {
          stream.destroy();
          await remove();
        }
      },
      resize,
      async kill() {
        stream.destroy();
        await remove();
      },
    };
    return { ok: true, exec, container: name };
  } catch (err) {
    await remove();
    throw err;
  }
}
