import { UnrecoverableError, type Job } from 'bullmq';
import { bridgeName, databaseBridgeKey } from '../../core/networks.ts';
import { defaultNetworkPool, ensureBridgeNetwork, removeNetwork } from '../../docker/networks.ts';
import {
  databaseContainerName,
  databaseHostName,
  databaseNetworkName,
  databaseUidLabel,
  databaseVolumeName,
} from '../../core/database-naming.ts';
import { ownedBy } from '../../core/installation.ts';
import { engineImage, engines, type Engine, type EngineExec } from '../../core/engines.ts';
import { publishEvent } from '../../events/stream.ts';
import type { BackupJobData, DatabaseJobData, RotateJobData } from '../../jobs/database-jobs.ts';
import type { DatabaseDocument } from '../../store/database-document.ts';
import { removeDatabaseRecords } from '../../store/record-removal.ts';
import { credentialsOf, type DatabaseWorkerContext } from './context.ts';
import { execSucceeded, ExecOutputTooLargeError, runExec } from '../../docker/exec.ts';
import { ensureVolume, removeVolume } from '../../docker/volumes.ts';
import { databaseContainerSpec, databaseLabels } from './container-spec.ts';
import {
  containerLogTail,
  ensureContainer,
  ensureImage,
  ImageMissingError,
  removeContainer,
  startAndGetHostPort,
} from '../../docker/containers.ts';
import { JobReporter } from '../job-reporter.ts';

export type DatabaseJobResult =
  | { outcome: 'provisioned'; host: string; port: number; durationMs: number }
  | { outcome: 'deleted' }
  | { outcome: 'backed-up'; backup: string; size: number }
  | { outcome: 'restored'; backup: string }
  | { outcome: 'skipped'; reason: string };

/** A failure another attempt will not fix: the message is for the user. */
class DatabaseJobFailure extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'DatabaseJobFailure';
  }
}

function engineOf(doc: DatabaseDocument): Engine {
  const engine = engines[doc.engine];
  if (!engine) throw new DatabaseJobFailure(`unknown engine "${doc.engine}"`, true);
  return engine;
}

/**
 * Volume and network names hold the incarnation's uid, which is unique already; the container's holds the
 * installation.
 */
function names(installation: string, database: { name: string; uid: string }) {
  return {
    container: databaseContainerName(installation, database.name),
    host: databaseHostName(database.name),
    volume: databaseVolumeName(database.name, database.uid),
    network: databaseNetworkName(database.name, database.uid),
  };
}

/** The document this job is for, or why the job has nothing to do. */
async function current(ctx: DatabaseWorkerContext, data: DatabaseJobData): Promise<DatabaseDocument | string> {
  const doc = await ctx.databases.get(data.database);
  if (!doc || doc.uid !== data.uid) return 'database was deleted';
  if (doc.status === 'deleting') return 'database is being deleted';
  return doc;
}

/** Repeats an exec until it succeeds (the server may still be starting) or time runs out. */
async function execUntilOk(
  ctx: DatabaseWorkerContext,
  container: string,
  spec: EngineExec,
  what: string,
  deadline: number,
): Promise<void> {
  let last = '';
  for (let delay = 100; ; delay = Math.min(delay * 1.5, 1000)) {
    try {
      const result = await runExec(ctx.docker, container, spec, { timeoutMs: 30_000 });
      if (execSucceeded(spec, result)) return;
      last =
        (result.stderr || result.stdout.toString('utf8')).trim().split('\n').slice(-3).join(' | ') ||
        `exit code ${result.exitCode}`;
    } catch (err) {
      // 409: the container is not running (it is restarting): judged below.
      if ((err as { statusCode?: number }).statusCode !== 409) throw err;
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new DatabaseJobFailure(`${what} did not succeed in time: ${last}`, true);
    const info = await ctx.docker.getContainer(container).inspect();
    // The server exits as it starts (a bad image or data): the restart policy would loop forever.
    if ((!info.State.Running && !info.State.Restarting) || info.RestartCount > 0) {
      const tail = await containerLogTail(ctx.docker, container, 10).catch(() => []);
      throw new DatabaseJobFailure(
        `the database server exited (code ${info.State.ExitCode}) during ${what}; its last lines:\n${tail.join('\n')}`,
        true,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * Converges a database to its document: image, network, volume, container (recreated, data kept,
 * when the password changed), user and database, then a real login with the credentials. Only
 * then is it `running` and announced (database.state, for DNS). Safe to repeat.
 */
export async function provisionDatabase(
  ctx: DatabaseWorkerContext,
  job: Job,
  data: DatabaseJobData | RotateJobData,
): Promise<DatabaseJobResult> {
  const started = Date.now();
  const report = new JobReporter(job, ctx.log);
  const found = await current(ctx, data);
  if (typeof found === 'string') return { outcome: 'skipped', reason: found };
  let doc = found;
  if ('version' in data && doc.passwordVersion !== data.version) {
    return { outcome: 'skipped', reason: `superseded by password version ${doc.passwordVersion}` };
  }
  const { options, docker } = ctx;
  const firstTime = doc.provisionedAt === undefined;
  const engine = engineOf(doc);
  const image = engineImage(doc.engine, options);
  const n = names(options.installation, doc);
  const labels = databaseLabels({
    name: doc.name,
    uid: doc.uid,
    installation: options.installation,
    node: options.nodeId,
  });
  // Also for a rotation of a running database: the monitor leaves `provisioning` alone, so the
  // container being replaced is not reported as down.
  doc =
    (await ctx.databases.update(doc.name, (d) =>
      d.status === 'deleting' ? undefined : { ...d, status: 'provisioning' },
    )) ?? doc;
  const credentials = credentialsOf(doc, ctx.secrets);
  try {
    await report.step(10, `preparing ${doc.engine} (${image}), network and volume`);
    await Promise.all([
      ensureImage(docker, image),
      ensureBridgeNetwork(docker, {
        name: n.network,
        labels,
        bridge: bridgeName(options.installation, databaseBridgeKey(options.nodeId, doc.name, doc.uid)),
        pool: options.networkPool ?? defaultNetworkPool,
      }),
      ensureVolume(docker, n.volume, labels),
    ]);
    const spec = databaseContainerSpec({
      name: doc.name,
      uid: doc.uid,
      installation: options.installation,
      node: options.nodeId,
      engine,
      image,
      credentials,
      container: n.container,
      host: n.host,
      volume: n.volume,
      network: n.network,
      publishAddress: options.nodeAddress,
      hostPort: doc.port,
      resources: doc.resources,
    });
    const { id, reused } = await ensureContainer(docker, spec);
    await report.line(`${reused ? 'reusing' : 'created'} container ${n.container}`);

    await report.step(40, 'starting');
    const port = await startAndGetHostPort(docker, id, engine.port).catch((err: Error) => {
      // Another program took the reserved port: the user has to pick up a new URL (delete, create).
      if (/port is already allocated|address already in use/i.test(err.message))
        throw new DatabaseJobFailure(`host port ${doc.port} is taken on this node: ${err.message}`, true);
      throw err;
    });
    const deadline = Date.now() + options.readyTimeoutMs;
    if (engine.createUser) {
      await report.step(60, `creating user ${doc.user} and database ${doc.database}`);
      await execUntilOk(ctx, id, engine.createUser(credentials), 'creating the user', deadline);
    }
    await report.step(80, 'checking a login with the new credentials');
    await execUntilOk(ctx, id, engine.loginCheck(credentials), 'a login with the new credentials', deadline);
    await report.done('login accepted');

    const stored = await ctx.databases.update(doc.name, (d) =>
      d.status === 'deleting' || d.uid !== doc.uid || d.sealedPassword !== doc.sealedPassword
        ? undefined
        : {
            ...d,
            status: 'running',
            container: n.container,
            restarts: 0,
            provisionedAt: d.provisionedAt ?? new Date().toISOString(),
            checkedAt: new Date().toISOString(),
            lastError: undefined,
          },
    );
    if (stored?.status !== 'running' || stored.port !== port) {
      return { outcome: 'skipped', reason: 'database was deleted or its password changed meanwhile' };
    }
    await publishEvent(ctx.redis, {
      type: 'database.state',
      database: doc.name,
      engine: doc.engine,
      node: options.nodeId,
      address: options.nodeAddress,
      port,
    });
    await report.step(100, 'running');
    return { outcome: 'provisioned', host: options.nodeAddress, port, durationMs: Date.now() - started };
  } catch (err) {
    const failure = explain(err);
    await report.line(`failed: ${failure.message}`);
    const final = failure.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (final) {
      // A database that never ran leaves nothing behind; one that ran keeps its data.
      if (firstTime)
        await removeEverything(ctx, doc).catch((e) =>
          ctx.log.warn({ err: e }, 'cleanup after a failed provision failed'),
        );
      await ctx.databases.update(doc.name, (d) =>
        d.status === 'deleting' || d.uid !== doc.uid
          ? undefined
          : {
              ...d,
              status: firstTime ? 'failed' : d.status === 'provisioning' ? 'down' : d.status,
              lastError: failure.message,
            },
      );
    }
    throw failure.permanent ? new UnrecoverableError(failure.message) : err;
  }
}

function explain(err: unknown): DatabaseJobFailure {
  if (err instanceof DatabaseJobFailure) return err;
  if (err instanceof ImageMissingError) return new DatabaseJobFailure(err.message, true);
  if (err instanceof ExecOutputTooLargeError)
    return new DatabaseJobFailure(`backup ${err.message} (GASPER_DB_BACKUP_MAX_BYTES)`, true);
  return new DatabaseJobFailure((err as Error).message ?? String(err), false);
}

async function removeEverything(ctx: DatabaseWorkerContext, doc: DatabaseDocument): Promise<void> {
  const n = names(ctx.options.installation, doc);
  await removeContainer(ctx.docker, n.container);
  await removeNetwork(ctx.docker, n.network);
  await removeVolume(ctx.docker, n.volume);
}

/** Removes the container, its volume (the data), its network (linked apps are cut off), its keys. */
export async function deleteDatabase(
  ctx: DatabaseWorkerContext,
  job: Job,
  data: DatabaseJobData,
): Promise<DatabaseJobResult> {
  const report = new JobReporter(job, ctx.log);
  const doc = await ctx.databases.get(data.database);
  if (doc && (doc.uid !== data.uid || doc.status !== 'deleting'))
    return { outcome: 'skipped', reason: 'database is not marked for deletion' };
  await report.step(10, 'removing container, network and volume');
  const n = names(ctx.options.installation, { name: data.database, uid: data.uid });
  // The container of another incarnation (same name) is not ours: check its uid label.
  const info = await ctx.docker
    .getContainer(n.container)
    .inspect()
    .catch(() => undefined);
  if (
    info &&
    info.Config.Labels?.[databaseUidLabel] === data.uid &&
    ownedBy(ctx.options.installation, info.Config.Labels)
  )
    await removeContainer(ctx.docker, info.Id);
  await removeNetwork(ctx.docker, n.network);
  await removeVolume(ctx.docker, n.volume);
  await report.step(80, 'removing records and backups');
  await removeDatabaseRecords(ctx.redis, ctx.databases, data.database);
  await report.step(100, 'deleted');
  return { outcome: 'deleted' };
}

function runningContainer(doc: DatabaseDocument): string {
  if (doc.status !== 'running' || !doc.container) {
    throw new DatabaseJobFailure(`database is ${doc.status}, not running`, true);
  }
  return doc.container;
}

/** Runs the engine's dump in the container and keeps its output in Redis (bounded, newest N). */
export async function backupDatabase(
  ctx: DatabaseWorkerContext,
  job: Job,
  data: BackupJobData,
): Promise<DatabaseJobResult> {
  const report = new JobReporter(job, ctx.log);
  const found = await current(ctx, data);
  if (typeof found === 'string') return { outcome: 'skipped', reason: found };
  if (await ctx.databases.getBackupMeta(found.name, data.backup))
    return { outcome: 'skipped', reason: 'backup exists' };
  try {
    const container = runningContainer(found);
    const engine = engineOf(found);
    await report.step(10, `dumping ${found.database}`);
    const spec = engine.backup(credentialsOf(found, ctx.secrets));
    const result = await runExec(ctx.docker, container, spec, { maxStdout: ctx.options.backupMaxBytes });
    if (!execSucceeded(spec, result))
      throw new DatabaseJobFailure(
        `dump failed (exit code ${result.exitCode}): ${result.stderr.trim().slice(-500)}`,
        false,
      );
    await report.done(`dumped ${result.stdout.length} bytes`);
    const meta = {
      id: data.backup,
      size: result.stdout.length,
      createdAt: new Date().toISOString(),
      filename: `${found.name}-${data.backup}.${engine.backupExtension}`,
    };
    const dropped = await ctx.databases.putBackup(found.name, meta, result.stdout, ctx.options.backupsKept);
    if (dropped.length) await report.line(`dropped older backup(s) ${dropped.join(', ')}`);
    await report.step(100, 'backed up');
    return { outcome: 'backed-up', backup: data.backup, size: meta.size };
  } catch (err) {
    const failure = explain(err);
    await report.line(`failed: ${failure.message}`);
    throw failure.permanent ? new UnrecoverableError(failure.message) : err;
  }
}

/** Feeds a stored backup to the engine's restore command; for Redis, restarts it to load the RDB. */
export async function restoreDatabase(
  ctx: DatabaseWorkerContext,
  job: Job,
  data: BackupJobData,
): Promise<DatabaseJobResult> {
  const report = new JobReporter(job, ctx.log);
  const found = await current(ctx, data);
  if (typeof found === 'string') return { outcome: 'skipped', reason: found };
  try {
    const container = runningContainer(found);
    const engine = engineOf(found);
    const backup = await ctx.databases.getBackupData(found.name, data.backup);
    if (!backup) throw new DatabaseJobFailure(`backup ${data.backup} no longer exists`, true);
    const credentials = credentialsOf(found, ctx.secrets);
    await report.step(10, `restoring ${data.backup} (${backup.length} bytes)`);
    const spec = engine.restore(credentials);
    const result = await runExec(ctx.docker, container, spec, { input: backup });
    if (!execSucceeded(spec, result))
      throw new DatabaseJobFailure(
        `restore failed (exit code ${result.exitCode}): ${result.stderr.trim().slice(-500)}`,
        true,
      );
    const deadline = Date.now() + ctx.options.readyTimeoutMs;
    if (engine.restartAfterRestore) {
      await report.step(60, 'restarting the engine to load the backup');
      await ctx.docker.getContainer(container).restart({ t: 10 });
      await execUntilOk(ctx, container, engine.loginCheck(credentials), 'a login after the restore', deadline);
      if (engine.afterRestore)
        await execUntilOk(ctx, container, engine.afterRestore(credentials), 'finishing the restore', deadline);
    }
    await execUntilOk(ctx, container, engine.loginCheck(credentials), 'a login after the restore', deadline);
    await report.step(100, 'restored');
    return { outcome: 'restored', backup: data.backup };
  } catch (err) {
    const failure = explain(err);
    await report.line(`failed: ${failure.message}`);
    throw failure.permanent ? new UnrecoverableError(failure.message) : err;
  }
}
