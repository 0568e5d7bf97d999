import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import { buildContainerName, containerLabels } from '../../core/naming.ts';
import { runtimeImage } from '../../core/runtimes.ts';
import type { Instance } from '../../events/schemas.ts';
import { nodesOf, shareOf } from '../../core/app-placement.ts';
import type { DeployAppData } from '../../jobs/schemas.ts';
import { deployFailed, deploying, switched } from '../../core/app-state.ts';
import { applyTransition } from '../../store/app-state-writes.ts';
import { BuildFailedError, runBuild } from './build.ts';
import { openCredentials } from '../../core/repo-credentials.ts';
import { splitRepoCredentials } from '../../core/repo-url.ts';
import { CloneFailedError, cloneRelease } from './clone.ts';
import { appUser } from '../../core/app-user.ts';
import { containerSpec } from './container-spec.ts';
import { containerLogTail, ensureImage, ImageMissingError, removeContainer } from '../../docker/containers.ts';
import type { WorkerContext } from '../context.ts';
import { HealthTimeoutError } from './health.ts';
import { describeCheck } from './health-verdict.ts';
import { ensureAppNetwork, InstanceStartError, type InstancePlan } from './instances.ts';
import { JobReporter } from '../job-reporter.ts';
import { launchDir, launcherCommand, markReleaseReady, prepareReleaseCommands } from './launcher.ts';
import { ConventionError, procfileProcesses } from './conventions.ts';
import {
  planExtras,
  planInstances,
  recordActivation,
  ReleaseImageMissingError,
  releaseConfig,
} from './release-plan.ts';
import { appImageRepository, appImageTag, buildArgsOf, dockerfileInContext, imagePort } from './builder-choice.ts';
import {
  buildDockerfileImage,
  chooseReleaseBuilder,
  dockerfileRunCommand,
  ownCacheImages,
  removeImage,
} from './dockerfile-build.ts';
import { scopeLabels } from '../../core/installation.ts';
import { DiskFullError, ensureFreeDisk } from './free-disk.ts';
import { cleanupReleases } from '../node/release-cleanup.ts';
import { chownTree } from './releases.ts';
import { prepareDeps, recordDeps } from './deps-reuse.ts';
import { prepareGoCache } from './go-cache.ts';
import { goCacheEnv } from './go-cache-plan.ts';
import { narrowToSubdir } from './repo-subdir.ts';
import {
  announceCommit,
  announceReleased,
  awaitCommit,
  awaitReleased,
  failRollout,
  RolloutAbandoned,
  type Rollout,
} from './rollout.ts';
import { runOneOff } from './one-off.ts';
import { readReleaseCommand, ReleasePhaseError, releaseFailureMessage } from './release-phase.ts';
import { runTimeoutMs } from './run-app.ts';
import { chooseReleaseImage } from './runtime-image.ts';
import { ShareRollout } from './share-rollout.ts';
import { BuildPidsHolder } from './build-pids.ts';
import { resolveFormation, webProcess } from '../../core/formation.ts';
import { readRepoListing } from './repo-listing.ts';
import { ensureProcesses, planProcesses, startProcesses } from './process-rollout.ts';
import { applyAppJson } from './app-json-env.ts';
import { syncAppJsonCron } from '../schedules/app-json-cron.ts';
import { runPostdeploy } from './postdeploy.ts';
import { askAppJsonFormation } from './app-json-formation-ask.ts';

export type DeployResult =
  | { outcome: 'deployed'; release: string; commit: string; instances: Instance[]; durationMs: number }
  | { outcome: 'unchanged' | 'skipped'; reason: string };

/** A user error carrying the lines that explain it (build output, app logs). */
export class DeployFailure extends Error {
  constructor(
    message: string,
    readonly tail: string[],
    readonly permanent: boolean,
  ) {
    super(tail.length ? `${message}\n${tail.join('\n')}` : message);
  }
}

/**
 * Converges this node's share of an app to `release`: clone the branch head (on the primary node;
 * the others clone the commit it got) in parallel with preparing the containers (one per
 * instance), build, start them, wait until each passes the health check, switch when every
 * node's share is healthy (rollout.ts: state + event), then drain and remove the previous
 * release's containers: zero downtime. Prepare, start, switch and drain are share-rollout.ts's,
 * the same as restart, start and rollback run. Every step checks what exists first, so a retry or
 * a stalled-job re-run finishes the work instead of duplicating it. The release is recorded
 * (config snapshot, build log, timings).
 */
export async function deployApp(ctx: WorkerContext, job: Job, data: DeployAppData): Promise<DeployResult> {
  const { docker, apps, releases, options } = ctx;
  const { lifecycle } = options;
  const started = Date.now();
  const report = new JobReporter(job, ctx.log);
  const doc = await apps.get(data.app);
  if (!doc || doc.uid !== data.uid || doc.status === 'deleting')
    return { outcome: 'skipped', reason: 'app is deleted or being deleted' };
  if (doc.release === data.release && doc.status === 'running') {
    // A retry after the switch: the other process types may not have started on this node yet.
    const started = await ensureProcesses(ctx, doc);
    return {
      outcome: 'unchanged',
      reason: `release already running${started.length ? `; started ${started.join(', ')}` : ''}`,
    };
  }
  if (doc.pendingRelease !== data.release)
    return { outcome: 'skipped', reason: `superseded by ${doc.pendingRelease ?? 'another release'}` };
  if (shareOf(doc, options.nodeId) === 0)
    return { outcome: 'skipped', reason: `no instance of the app is placed on node ${options.nodeId}` };
  // The primary node records the release and announces the commit; every node starts its share.
  const primary = doc.node === options.nodeId;
  // The app's own network is the slowest part of preparing its first container (Docker makes the
  // bridge and programs its firewall rules: hundreds of ms on a busy host), and every way a release
  // runs needs it (instances, build, Dockerfile build): it is made from the job's first moment,
  // beside the rest. Idempotent; a failure shows where the network is used (ensureAppNetwork again).
  const network = ensureAppNetwork(ctx, doc.name, doc.uid).catch(() => undefined);
  const rollout: Rollout = {
    app: doc.name,
    id: `deploy-${data.release}`,
    nodes: nodesOf(doc),
    wanted: (d) => d.uid === doc.uid && d.status !== 'deleting' && d.pendingRelease === data.release,
    timeoutMs: options.buildTimeoutMs + options.healthTimeoutMs + 120_000,
  };

  // Documents written before credentials were kept apart may still carry them in the URL:
  // they go to git the same way as a sealed token, never in its arguments or the job log.
  const { url: repoUrl, credentials: legacyCredentials } = splitRepoCredentials(doc.repo.url);
  await applyTransition(ctx.redis, doc.name, deploying());
  const dir = releases.releaseDir(doc.name, data.release);
  // Runtime containers are prepared while cloning unless the app always builds from its Dockerfile;
  // `auto` prepares them too and discards them when the clone has a Dockerfile (builder-choice.ts).
  const runtimeFirst = doc.runtime !== undefined && doc.builder !== 'dockerfile';
  const image = doc.runtime ? runtimeImage(doc.runtime, options) : '';
  const command = doc.run ?? launcherCommand;
  let plan = planInstances(ctx, {
    doc,
    release: data.release,
    image,
    command,
    extras: await planExtras(ctx, doc, data.release, command),
  });
  // The build sees the env the app will run with (linked databases' URLs included).
  const common = {
    image,
    app: doc.name,
    release: data.release,
    ...ctx.scope,
    releaseDir: dir,
    port: doc.port,
    env: plan.env,
    publishAddress: options.nodeAddress,
    extraCaCerts: options.extraCaCerts,
  };
  const buildContainer = buildContainerName(ctx.scope.installation, doc.name, data.release);
  // A Dockerfile build's pids holder, labelled as the release's build container: reconcile and
  // deletion find one left behind. The node in the name: nodes sharing a daemon build the same
  // release each under its own holder.
  const pidsHolder = new BuildPidsHolder(docker, {
    name: `${buildContainer}-pids-${ctx.scope.node.replace(/[^a-zA-Z0-9_.-]/g, '-')}`,
    image: `${options.imagePrefix}/base:bookworm`,
    labels: {
      ...scopeLabels(ctx.scope),
      [containerLabels.app]: doc.name,
      [containerLabels.release]: data.release,
      [containerLabels.role]: 'build',
    },
    limit: lifecycle.build.pidsLimit,
  });
  // The runtime containers prepared during the clone are started while the build runs, held until
  // the release is ready (launcher.ts heldCommand): Docker's start then overlaps the build.
  const releaseLaunchDir = launchDir(releases.appDir(doc.name), data.release);
  let share = new ShareRollout(
    ctx,
    plan,
    doc.instances.map((i) => i.container),
    runtimeFirst ? releaseLaunchDir : undefined,
  );
  const createdAt = new Date(job.timestamp).toISOString();
  const records = primary ? ctx.records : undefined;
  await records?.put({
    id: data.release,
    app: doc.name,
    status: 'building',
    config: releaseConfig(doc, plan),
    sealedEnv: doc.sealedEnv,
    buildLog: [],
    job: job.id,
    onDisk: true,
    timings: { createdAt, activatedAt: [] },
  });
  const timings: { builtAt?: string; healthyAt?: string } = {};
  /** The held start of the runtime containers while the build runs (launcher.ts heldCommand). */
  let heldStart: Promise<void> | undefined;
  /** Set once a Dockerfile build starts: a failed deploy removes the image. */
  let builtImage: string | undefined;

  try {
    await ensureFreeDisk(releases.root(), lifecycle.disk.minFreeMb, options.nodeId);
    await report.step(5, 'cloning repository and preparing container');
    // An app that can only build from its Dockerfile starts the holder beside the clone: both take
    // a few hundred ms, and the build needs both.
    if (doc.builder === 'dockerfile' || doc.runtime === undefined) pidsHolder.startEarly();
    const [clone] = await settleAll([
      (primary || data.commit ? Promise.resolve(data.commit) : awaitCommit(ctx, rollout)).then(async (commit) => {
        const c = await cloneRelease({
          url: repoUrl,
          branch: doc.repo.branch,
          commit,
          dir,
          allowLocal: options.allowLocalRepos,
          limits: options.clone,
          sshDir: releases.gitSshDir(),
          credentials: doc.repo.sealedCredentials
            ? openCredentials(ctx.secrets, doc.repo.sealedCredentials)
            : legacyCredentials,
        }).catch((err: unknown) => {
          // git's own words (masked) for the operator; the user gets words that do not map the network.
          if (err instanceof CloneFailedError && err.detail)
            ctx.log.warn({ app: doc.name, job: job.id, git: err.detail }, err.message);
          throw err;
        });
        if (primary) await announceCommit(ctx, rollout, c.commit);
        // A monorepo's folder (repo.path) becomes the release directory: the build and app see it as /app.
        if (doc.repo.path) await narrowToSubdir(dir, doc.repo.path);
        await chownTree(dir, appUser.uid, appUser.gid);
        // app.json (app-json-env.ts): env defaults, generated secrets, required variables, health check.
        const appJson = await applyAppJson(ctx, doc, dir, new Set(Object.keys(plan.env)), report);
        await report.line(
          `cloned ${repoUrl}${doc.repo.branch ? ` (${doc.repo.branch})` : ''} at ${c.commit.slice(0, 12)}${doc.repo.path ? `, folder ${doc.repo.path} as /app` : ''}`,
        );
        const choice = await chooseReleaseBuilder(doc, dir);
        await report.line(`builder: ${choice.builder} (${choice.reason})`);
        if (choice.builder === 'dockerfile') {
          const run = await dockerfileRunCommand(dir, doc.run);
          await report.line(`run: ${run.command || "(the image's CMD/ENTRYPOINT)"} (${run.reason})`);
          // The image's command is the web process; the Procfile's other types run with its image.
          const processes = { ...procfileProcesses((await readRepoListing(dir)).contents.Procfile), web: run.command };
          return { ...c, build: [] as string[], choice, run: run.command, image: undefined, processes, appJson };
        }
        // Build and run commands the app omits come from the repository (conventions.ts).
        const commands = await prepareReleaseCommands({
          app: doc.name,
          appDir: releases.appDir(doc.name),
          release: data.release,
          releaseDir: dir,
          runtime: choice.runtime,
          build: doc.build,
          run: doc.run,
        });
        await report.line(`build: ${commands.build.commands.join(' && ') || '(none)'} (${commands.build.reason})`);
        await report.line(`run: ${commands.run.command || '(no web process)'} (${commands.run.reason})`);
        // The runtime's version comes from the repository (.nvmrc, engines.node...): runtime-image.ts.
        const version = await chooseReleaseImage(dir, choice.runtime, options);
        if (version.line) await report.line(version.line);
        return {
          ...c,
          build: commands.build.commands,
          choice,
          run: undefined,
          image: version.image,
          processes: commands.processes,
          appJson,
        };
      }),
      runtimeFirst
        ? Promise.all([ensureImage(docker, image), network]).then(async () => {
            const prepared = await share.prepare();
            await report.line(
              `prepared ${prepared.join(', ')} on node ${options.nodeId} from ${image} (${plan.resources.cpu} CPU, ${plan.resources.memoryMb} MiB)`,
            );
          })
        : Promise.resolve(),
    ]);
    /** The release's env and health check with what app.json adds (never over a variable set otherwise). */
    const withAppJson = (p: typeof plan): typeof plan =>
      clone.appJson
        ? {
            ...p,
            env: { ...clone.appJson.env, ...p.env },
            ...(clone.appJson.healthPath ? { healthPath: clone.appJson.healthPath } : {}),
            ...(clone.appJson.healthRules ? { healthRules: clone.appJson.healthRules } : {}),
          }
        : p;
    const appJsonChanges = clone.appJson && (Object.keys(clone.appJson.env).length > 0 || clone.appJson.healthPath);
    if (clone.appJson && appJsonChanges) {
      const added = clone.appJson.sealedEnv;
      plan = withAppJson(plan);
      common.env = plan.env;
      share.replan(plan);
      // A restart or rollback of this release runs with them too (release-plan.ts planForRelease).
      const check = clone.appJson.healthPath
        ? { appJsonHealthCheck: { path: clone.appJson.healthPath, ...clone.appJson.healthRules } }
        : {};
      await records?.update(doc.name, data.release, (r) => ({
        ...r,
        ...check,
        sealedEnv: { ...added, ...r.sealedEnv },
      }));
      if (share.containers.length && (clone.image === undefined || clone.image === plan.image)) {
        const prepared = await share.prepare();
        await report.line(`prepared ${prepared.join(', ')} again with app.json's env`);
      }
    }
    // The containers were made from the default version's image while cloning; another version's
    // image replaces them (same names, so the rest of the deploy does not change).
    if (clone.image !== undefined && clone.image !== plan.image) {
      plan = { ...plan, image: clone.image };
      common.image = clone.image;
      await ensureImage(docker, clone.image);
      const prepared = await share.prepareFrom(clone.image);
      await records?.update(doc.name, data.release, (r) => ({ ...r, config: { ...r.config, image: clone.image } }));
      await report.line(`prepared ${prepared.join(', ')} again from ${clone.image}`);
    }
    await report.done('source and container ready');
    // Which process types run, and how many (core/formation.ts): said once, in the job log.
    const formation = resolveFormation(Object.keys(clone.processes), doc);
    for (const line of formation.lines) await report.line(line);
    const hasWeb = webProcess in clone.processes;
    if (!hasWeb && share.containers.length) {
      // Prepared while cloning, before the Procfile said there is no web process.
      await share.discard();
      plan = { ...plan, count: 0 };
      share = new ShareRollout(
        ctx,
        plan,
        doc.instances.map((i) => i.container),
      );
    }

    if (clone.choice.builder === 'dockerfile') {
      // Containers of the runtime image prepared while cloning (builder auto) are not the release's.
      await share.discard();
      const tag = appImageTag(options.imagePrefix, ctx.scope.installation, doc.name, data.release);
      await report.step(30, `building ${tag} from ${clone.choice.dockerfile}`);
      const buildArgs = buildArgsOf(doc.buildArgs, plan.env);
      if (Object.keys(buildArgs).length) await report.line(`build args: ${Object.keys(buildArgs).join(', ')}`);
      const ownRepository = appImageRepository(options.imagePrefix, ctx.scope.installation, doc.name);
      // No image to take layers from: buildDockerfileImage then builds every step anew (nocache).
      const cacheFrom = data.cache === false ? [] : await ownCacheImages(docker, ownRepository);
      await report.line(
        data.cache === false
          ? 'cache: none (cache: false: every step built from nothing)'
          : cacheFrom.length
            ? `cache: this app's images only (${cacheFrom.length})`
            : "cache: none (no earlier image of this app on this node; other apps' layers are never used)",
      );
      // RUN steps join the app's network, as the runtime build does: they reach the internet, not other tenants.
      const network = await ensureAppNetwork(ctx, doc.name, doc.uid);
      builtImage = tag;
      try {
        await buildDockerfileImage({
          network,
          ownRepository,
          appPrefix: `${options.imagePrefix}-app/`,
          cacheFrom,
          docker,
          releaseDir: dir,
          context: clone.choice.context,
          dockerfile: dockerfileInContext(clone.choice.dockerfile, clone.choice.context)!,
          tag,
          labels: {
            ...scopeLabels(ctx.scope),
            [containerLabels.app]: doc.name,
            [containerLabels.release]: data.release,
            [containerLabels.role]: 'image',
          },
          buildArgs,
          memoryMb: lifecycle.build.memoryMb,
          cpu: lifecycle.build.cpu,
          pidsLimit: lifecycle.build.pidsLimit,
          pidsHolder,
          timeoutMs: options.buildTimeoutMs,
          killedBecause: () => ctx.killedBuilds?.get(pidsHolder.name),
          onLine: (line) => report.line(line),
        });
      } finally {
        // Read by the build only: a later attempt's build of the same name starts with no reason.
        ctx.killedBuilds?.delete(pidsHolder.name);
      }
      await report.done('image built');
      const exposed = (await docker.getImage(tag).inspect()).Config?.ExposedPorts;
      const port = doc.portFromImage ? imagePort(exposed, doc.port) : doc.port;
      await report.line(
        `port: ${port} (${!doc.portFromImage ? 'given by the app' : port === doc.port && !exposed ? 'no EXPOSE in the image: the default' : "the image's EXPOSE"})`,
      );
      plan = withAppJson(
        planInstances(ctx, {
          doc,
          release: data.release,
          image: tag,
          command: clone.run ?? '',
          port,
          extras: await planExtras(ctx, doc, data.release, '', true),
          fromImage: true,
          web: hasWeb,
        }),
      );
      share = new ShareRollout(
        ctx,
        plan,
        doc.instances.map((i) => i.container),
      );
      const prepared = await share.prepare();
      await report.line(
        `prepared ${prepared.join(', ')} on node ${options.nodeId} from ${tag} (${plan.resources.cpu} CPU, ${plan.resources.memoryMb} MiB)`,
      );
      const config = releaseConfig(doc, plan, clone.processes);
      await records?.update(doc.name, data.release, (r) => ({ ...r, config }));
    } else if (clone.build.length) {
      // The release directory is final now (cloned, narrowed to its folder; the bind mount is made
      // at start, so not before): the held containers start while the build runs.
      heldStart = share.startHeld();
      heldStart.catch(() => undefined); // awaited before the start; a failed build discards them
      // An unchanged lockfile reuses an earlier release's installed dependencies instead of installing (deps-reuse.ts).
      const deps = await prepareDeps({
        releasesDir: path.dirname(dir),
        release: data.release,
        commands: clone.build,
        image: plan.image,
        cache: data.cache !== false,
      });
      const commands = deps.commands;
      await report.step(
        30,
        `building (${commands.length} command${commands.length === 1 ? '' : 's'}${commands.length < clone.build.length ? `, ${clone.build.length - commands.length} skipped` : ''})`,
      );
      for (const line of deps.lines) await report.line(line);
      // Go keeps its module and build caches per app between builds (go-cache-plan.ts).
      const goCache =
        commands.length && clone.choice.builder === 'runtime' && clone.choice.runtime === 'go'
          ? await prepareGoCache({ appDir: releases.appDir(doc.name), uid: doc.uid, cache: data.cache !== false })
          : undefined;
      if (goCache) await report.line(goCache.line);
      // The build runs on the app's network: it reaches the internet, not other tenants' containers.
      const network = commands.length ? await ensureAppNetwork(ctx, doc.name, doc.uid) : '';
      try {
        if (commands.length)
          await runBuild({
            docker,
            spec: containerSpec({
              ...common,
              name: buildContainer,
              role: 'build',
              network,
              ...(goCache ? { env: goCacheEnv(common.env), buildCacheBinds: [goCache.bind] } : {}),
              resources: { cpu: lifecycle.build.cpu, memoryMb: lifecycle.build.memoryMb },
              pidsLimit: lifecycle.build.pidsLimit,
            }),
            memoryMb: lifecycle.build.memoryMb,
            killedBecause: () => ctx.killedBuilds?.get(buildContainer),
            commands,
            timeoutMs: options.buildTimeoutMs,
            onLine: (line) => report.line(line),
          });
      } finally {
        // Read by runBuild only: a later attempt's build of the same name starts with no reason.
        ctx.killedBuilds?.delete(buildContainer);
      }
      // Only now: a failed install never becomes a source for the next release.
      await recordDeps(dir, deps);
      await report.done('build succeeded');
    }

    timings.builtAt = new Date().toISOString();
    await releasePhase(ctx, { job, report, plan, rollout, primary, dir });
    await records?.update(doc.name, data.release, (r) => ({
      ...r,
      status: 'starting',
      config: { ...r.config, processes: clone.processes },
    }));
    await report.step(
      70,
      hasWeb
        ? `starting ${share.containers.length} instance(s), waiting for ${describeCheck(plan.healthPath === undefined ? {} : { path: plan.healthPath, ...plan.healthRules })}`
        : 'no web process: no HTTP wait',
    );
    // Only now, after the clone, build and release phase: the held containers run the app.
    await heldStart;
    if (runtimeFirst) await markReleaseReady(releaseLaunchDir);
    const instances: Instance[] = await share.start();
    // Its removal began when the build ended, beside the start; one left behind is reconcile's.
    await pidsHolder
      .close()
      .catch((err) => ctx.log.warn({ err, app: doc.name }, 'cannot remove the build pids holder'));
    timings.healthyAt = new Date().toISOString();
    if (hasWeb) await report.done(plan.healthPath ? 'app passes its health check' : 'app answers HTTP');

    const others =
      rollout.nodes.length > 1
        ? ` and on node${rollout.nodes.length > 2 ? 's' : ''} ${rollout.nodes.filter((n) => n !== options.nodeId).join(', ')}`
        : '';
    await report.step(90, `switching traffic once the instances here${others} are healthy`);
    const all = await share.switch(rollout, instances, (every) =>
      switched(every, {
        release: data.release,
        commit: clone.commit,
        endsPendingRelease: true,
        formation: formation.counts,
      }),
    );

    // The other process types start now, replacing the previous release's (drained below).
    const otherPlans = planProcesses(ctx, doc, plan, clone.processes);
    const processes = otherPlans.length
      ? await startProcesses(
          ctx,
          data.release,
          otherPlans,
          doc.instances.map((i) => i.container),
        )
      : { names: [], instances: [] };
    if (processes.names.length) await report.line(`started ${processes.names.join(', ')} on node ${options.nodeId}`);

    await report.step(95, 'draining the previous instances');
    await share.drain(processes.names);
    // Old releases beyond GASPER_KEEP_RELEASES go now; a failure is the periodic upkeep's to retry.
    await cleanupReleases(ctx, doc.name).catch((err) => ctx.log.warn({ err, app: doc.name }, 'release cleanup failed'));
    if (primary) {
      // app.json's cron entries become the app's app.json schedules, once the release serves.
      const lines = await syncAppJsonCron(ctx.redis, doc, clone.appJson?.appJson.cron ?? []).catch((err: Error) => [
        `app.json: the schedules could not be updated (${err.message}); the next deploy tries again`,
      ]);
      for (const line of lines) await report.line(line);
      // app.json's postdeploy: once in the app's life, after its first deploy; its failure does not undo this one.
      await runPostdeploy(ctx, {
        job,
        report,
        plan,
        doc,
        release: data.release,
        ...(clone.appJson?.appJson.scripts.postdeploy ? { command: clone.appJson.appJson.scripts.postdeploy } : {}),
      });
      // app.json's formation: asked once, for the control plane to place (app-json-formation.ts).
      if (clone.appJson) await askAppJsonFormation(ctx, doc, data.release, clone.appJson.appJson, report);
    }
    await report.step(100, 'deployed');
    if (primary) {
      await recordActivation(ctx, doc.name, data.release, {
        commit: clone.commit,
        buildLog: report.lines,
        timings: {
          createdAt,
          ...timings,
          finishedAt: new Date().toISOString(),
          durationMs: Date.now() - started,
          activatedAt: [],
        },
      });
    }
    return {
      outcome: 'deployed',
      release: data.release,
      commit: clone.commit,
      instances: [...all, ...processes.instances],
      durationMs: Date.now() - started,
    };
  } catch (err) {
    if (share.switched) {
      // The app serves this release now (here and on the other nodes): what failed after the switch
      // (draining the previous instances, pruning, the record) takes none of it away, neither the
      // new containers nor the release's directory, and the release is not marked failed.
      await report.line(`after the switch: ${(err as Error).message ?? String(err)}`);
      throw err;
    }
    if (err instanceof RolloutAbandoned && err.superseded) {
      await Promise.allSettled([share.discard(), removeContainer(docker, buildContainer), pidsHolder.close()]);
      // A cancelled release's image goes as a failed one's does: it would otherwise stay (and be ranked) forever.
      if (builtImage && doc.release !== data.release) await removeImage(docker, builtImage).catch(() => undefined);
      if (doc.release !== data.release) await releases.removeRelease(doc.name, data.release);
      await records?.update(doc.name, data.release, (r) => ({
        ...r,
        status: 'cancelled',
        error: err.message,
        buildLog: report.lines,
        onDisk: false,
      }));
      return { outcome: 'skipped', reason: `app was deleted or redeployed meanwhile (${err.message})` };
    }
    const failure = await explain(ctx, err);
    await Promise.allSettled([share.discard(), removeContainer(docker, buildContainer), pidsHolder.close()]);
    // The image of a release that never served goes too (a retry builds it again, cached only from
    // this app's other images).
    if (builtImage && doc.release !== data.release) await removeImage(docker, builtImage);
    // Nothing of a failed release stays on disk; an app that never ran keeps no directory at all.
    if (!doc.release) await releases.removeApp(doc.name);
    else if (doc.release !== data.release) await releases.removeRelease(doc.name, data.release);
    await report.line(`failed: ${failure.message}`);
    await records
      ?.update(doc.name, data.release, (r) => ({
        ...r,
        status: 'failed',
        error: failure.message,
        buildLog: report.lines,
        onDisk: doc.release === data.release,
        timings: { ...r.timings, ...timings, finishedAt: new Date().toISOString(), durationMs: Date.now() - started },
      }))
      .catch((e) => ctx.log.warn({ err: e }, 'cannot record the failed release'));
    const final = failure.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (final) {
      // The other nodes stop waiting and remove their new instances: the old release keeps serving.
      if (!(err instanceof RolloutAbandoned)) await failRollout(ctx, rollout, failure.message);
      await applyTransition(ctx.redis, doc.name, deployFailed(data.release, failure.message, doc.status));
    }
    throw failure.permanent ? new UnrecoverableError(failure.message) : err;
  }
}

/**
 * The release phase (release-phase.ts), between the build and the start of any new process: run
 * once, on the primary node, in a one-off container of the release (its env, limits, networks);
 * the other nodes wait for it before they start their share. Its output goes to the job log. A
 * retried deploy runs it again (a container left by the failed attempt is removed first).
 */
async function releasePhase(
  ctx: WorkerContext,
  input: { job: Job; report: JobReporter; plan: InstancePlan; rollout: Rollout; primary: boolean; dir: string },
): Promise<void> {
  const { job, report, plan, rollout, primary } = input;
  const release = await readReleaseCommand(input.dir);
  if (!release) return;
  if (!primary) {
    await report.step(65, `waiting for the release phase on node ${rollout.nodes[0]}`);
    // The primary may still be building, then runs the release command for up to its time limit.
    await awaitReleased(ctx, rollout, runTimeoutMs(ctx));
    await report.done('release phase done on the primary node');
    return;
  }
  await report.step(65, `release phase: ${release.command} (${release.source})`);
  const timeoutMs = runTimeoutMs(ctx);
  const result = await runOneOff(ctx, {
    key: `${job.id}-release`,
    plan,
    command: release.command,
    timeoutMs,
    onLine: (line) => report.line(`  ${line}`),
  });
  if (result.exitCode !== 0 || result.timedOut)
    throw new ReleasePhaseError(releaseFailureMessage(release.command, result, timeoutMs), result.tail);
  await report.done(`release phase succeeded in ${result.durationMs} ms`);
  if (rollout.nodes.length > 1) await announceReleased(ctx, rollout);
}

/** Like Promise.all, but waits for every branch before rejecting, so cleanup never races a branch. */
async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Turns what went wrong into a message for the user, with the lines that explain it. */
export async function explain(ctx: WorkerContext, err: unknown): Promise<DeployFailure> {
  if (err instanceof BuildFailedError) return new DeployFailure(err.message, err.tail, true);
  if (err instanceof ReleasePhaseError)
    return new DeployFailure(
      err.tail.length ? `${err.message}; last lines of its output:` : err.message,
      err.tail,
      true,
    );
  if (err instanceof InstanceStartError) {
    const tail = await containerLogTail(ctx.docker, err.container, 20).catch(() => []);
    return new DeployFailure(`${err.message}; last lines of the app's output:`, tail, true);
  }
  if (err instanceof HealthTimeoutError) return new DeployFailure(err.message, [], true);
  if (err instanceof ImageMissingError) return new DeployFailure(err.message, [], true);
  if (err instanceof ReleaseImageMissingError) return new DeployFailure(err.message, [], true);
  if (err instanceof ConventionError) return new DeployFailure(err.message, [], true);
  if (err instanceof DiskFullError) return new DeployFailure(err.message, [], true);
  if (err instanceof RolloutAbandoned) return new DeployFailure(`abandoned on every node: ${err.message}`, [], true);
  if (err instanceof CloneFailedError) return new DeployFailure(err.message, [], err.permanent);
  return new DeployFailure((err as Error).message ?? String(err), [], false);
}
