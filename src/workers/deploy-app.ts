import { UnrecoverableError, type Job } from 'bullmq';
import { appContainerName, buildContainerName, containerLabels } from '../core/naming.ts';
import { runtimeImage, runtimes } from '../core/runtimes.ts';
import type { Instance } from '../events/schemas.ts';
import { publishEvent } from '../events/stream.ts';
import type { DeployAppData } from '../jobs/schemas.ts';
import type { AppDocument } from '../store/app-document.ts';
import { BuildFailedError, runBuild } from './build.ts';
import { CloneFailedError, cloneRelease } from './clone.ts';
import { appUser, containerSpec } from './container-spec.ts';
import {
  ContainerExitedError, containerLogTail, containerState, ensureContainer, ensureImage, ImageMissingError, listManaged, removeContainer,
  startAndGetHostPort,
} from './containers.ts';
import type { WorkerContext } from './context.ts';
import { ConventionError } from './conventions.ts';
import { HealthTimeoutError, waitForHttp } from './health.ts';
import { JobReporter } from './job-reporter.ts';
import { launchDir, launcherCommand, prepareReleaseCommands } from './launcher.ts';
import { chownTree } from './releases.ts';
import { joinDatabaseNetworks, linkedDatabases } from './app-databases.ts';

export type DeployResult =
  | { outcome: 'deployed'; release: string; commit: string; instances: Instance[]; durationMs: number }
  | { outcome: 'unchanged' | 'skipped'; reason: string };

/** A user error carrying the lines that explain it (build output, app logs). */
class DeployFailure extends Error {
  constructor(message: string, readonly tail: string[], readonly permanent: boolean) {
    super(tail.length ? `${message}\n${tail.join('\n')}` : message);
  }
}

/**
 * Converges an app to `release`: clone the branch head in parallel with preparing the container,
 * build, start, wait for HTTP, switch (state + event), then remove the previous release's
 * containers. Every step checks what exists first, so a retry or a stalled-job re-run finishes
 * the work instead of duplicating it.
 */
export async function deployApp(ctx: WorkerContext, job: Job, data: DeployAppData): Promise<DeployResult> {
  const { docker, apps, releases, options } = ctx;
  const started = Date.now();
  const report = new JobReporter(job, ctx.log);
  const doc = await apps.get(data.app);
  if (!doc || doc.uid !== data.uid || doc.status === 'deleting') return { outcome: 'skipped', reason: 'app is deleted or being deleted' };
  if (doc.release === data.release && doc.status === 'running') return { outcome: 'unchanged', reason: 'release already running' };
  if (doc.pendingRelease !== data.release) return { outcome: 'skipped', reason: `superseded by ${doc.pendingRelease ?? 'another release'}` };

  await apps.update(doc.name, (d) => (d.status === 'deleting' ? undefined : { ...d, status: 'deploying' }));
  const dir = releases.releaseDir(doc.name, data.release);
  const image = runtimeImage(doc.runtime, options);
  const links = await linkedDatabases(ctx, doc);
  const userEnv = Object.fromEntries(Object.entries(doc.sealedEnv).map(([k, v]) => [k, ctx.secrets.open(v)]));
  const env = { ...runtimes[doc.runtime]?.env, ...userEnv, ...links.env };
  const common = {
    image, app: doc.name, release: data.release, node: options.nodeId, releaseDir: dir, port: doc.port, env,
    publishAddress: options.nodeAddress, extraCaCerts: options.extraCaCerts,
  };
  const appContainer = appContainerName(doc.name, data.release, 0);
  const buildContainer = buildContainerName(doc.name, data.release);

  try {
    await report.step(5, 'cloning repository and preparing container');
    const [clone] = await settleAll([
      cloneRelease({ url: doc.repo.url, branch: doc.repo.branch, commit: data.commit, dir, allowLocal: options.allowLocalRepos }).then(async (c) => {
        await chownTree(dir, appUser.uid, appUser.gid);
        await report.line(`cloned ${doc.repo.url}${doc.repo.branch ? ` (${doc.repo.branch})` : ''} at ${c.commit.slice(0, 12)}`);
        // Build and run commands the app omits come from the repository (conventions.ts).
        const commands = await prepareReleaseCommands({
          appDir: releases.appDir(doc.name), release: data.release, releaseDir: dir, runtime: doc.runtime, build: doc.build, run: doc.run,
        });
        await report.line(`build: ${commands.build.commands.join(' && ') || '(none)'} (${commands.build.reason})`);
        await report.line(`run: ${commands.run.command} (${commands.run.reason})`);
        return { ...c, build: commands.build.commands };
      }),
      ensureImage(docker, image).then(async () => {
        // Without `run`, the container starts the command written after the clone (launcher.ts).
        const launch = doc.run ? {} : { launchDir: launchDir(releases.appDir(doc.name), data.release) };
        const spec = containerSpec({ ...common, name: appContainer, role: 'app', command: doc.run ?? launcherCommand, ...launch });
        const { reused } = await ensureContainer(docker, spec);
        await joinDatabaseNetworks(docker, appContainer, links.networks);
        await report.line(`${reused ? 'reusing' : 'created'} container ${appContainer} from ${image}`);
      }),
    ]);
    await report.done('source and container ready');

    if (clone.build.length) {
      await report.step(30, `building (${clone.build.length} command${clone.build.length > 1 ? 's' : ''})`);
      await runBuild({
        docker,
        spec: containerSpec({ ...common, name: buildContainer, role: 'build' }),
        commands: clone.build,
        timeoutMs: options.buildTimeoutMs,
        onLine: (line) => report.line(line),
      });
      await report.done('build succeeded');
    }

    await report.step(70, 'starting container');
    const port = await startAndGetHostPort(docker, appContainer, doc.port);
    await report.step(80, `waiting for HTTP on ${options.nodeAddress}:${port}`);
    await waitForHttp({
      address: options.nodeAddress,
      port,
      timeoutMs: options.healthTimeoutMs,
      stillRunning: async () => {
        const state = await containerState(docker, appContainer);
        return state.running && state.restarts === 0;
      },
    });
    await report.done('app answers HTTP');

    await report.step(90, 'switching traffic');
    const instances: Instance[] = [{ node: options.nodeId, address: options.nodeAddress, port, container: appContainer }];
    const switched = await apps.update(doc.name, (d) =>
      d.status === 'deleting' || d.pendingRelease !== data.release
        ? undefined
        : { ...d, status: 'running', release: data.release, commit: clone.commit, instances, lastError: undefined, pendingRelease: undefined },
    );
    if (switched?.release !== data.release) return { outcome: 'skipped', reason: 'app was deleted or redeployed meanwhile' };
    await publishEvent(ctx.redis, { type: 'app.instances', app: doc.name, release: data.release, instances });

    for (const old of await listManaged(docker, { node: options.nodeId, app: doc.name })) {
      if (old.Labels[containerLabels.release] !== data.release) await removeContainer(docker, old.Id);
    }
    await releases.prune(doc.name, options.keepReleases, data.release);
    await report.step(100, 'deployed');
    return { outcome: 'deployed', release: data.release, commit: clone.commit, instances, durationMs: Date.now() - started };
  } catch (err) {
    const failure = await explain(ctx, err, appContainer);
    await Promise.allSettled([removeContainer(docker, appContainer), removeContainer(docker, buildContainer)]);
    // Nothing of a failed release stays on disk; an app that never ran keeps no directory at all.
    if (!doc.release) await releases.removeApp(doc.name);
    else if (doc.release !== data.release) await releases.removeRelease(doc.name, data.release);
    await report.line(`failed: ${failure.message}`);
    const final = failure.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (final) await markFailed(ctx, doc, data.release, failure.message);
    throw failure.permanent ? new UnrecoverableError(failure.message) : err;
  }
}

/** Like Promise.all, but waits for every branch before rejecting, so cleanup never races a branch. */
async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Turns what went wrong into a message for the user, with the lines that explain it. */
async function explain(ctx: WorkerContext, err: unknown, appContainer: string): Promise<DeployFailure> {
  if (err instanceof BuildFailedError) return new DeployFailure(err.message, err.tail, true);
  if (err instanceof HealthTimeoutError || err instanceof ContainerExitedError) {
    const tail = await containerLogTail(ctx.docker, appContainer, 20).catch(() => []);
    return new DeployFailure(`${err.message}; last lines of the app's output:`, tail, true);
  }
  if (err instanceof ImageMissingError) return new DeployFailure(err.message, [], true);
  if (err instanceof ConventionError) return new DeployFailure(err.message, [], true);
  if (err instanceof CloneFailedError) return new DeployFailure(err.message, [], err.permanent);
  return new DeployFailure((err as Error).message ?? String(err), [], false);
}

/** The app keeps serving its current release if it has one; the status says why the new one failed. */
async function markFailed(ctx: WorkerContext, doc: AppDocument, release: string, message: string): Promise<void> {
  await ctx.apps.update(doc.name, (d) =>
    d.status === 'deleting' || d.pendingRelease !== release
      ? undefined
      : { ...d, status: d.release ? 'running' : 'failed', lastError: message, pendingRelease: undefined },
  );
}
