import fs from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import type { AppDocument } from '../../store/app-document.ts';
import { BuildFailedError } from './build.ts';
import { type BuilderChoice, chooseBuilder, dockerfilePaths } from './builder-choice.ts';
import { ConventionError, parseProcfile } from './conventions.ts';
import { readRepoListing } from './repo-listing.ts';
import { scanDockerfile } from './dockerfile-scan.ts';
import { realPathProblem } from './repo-subdir.ts';
import { packBuildContext } from './build-context.ts';
import type { BuildPidsHolder, PidsBound } from './build-pids.ts';
import { pidsLimitMessage } from './build-pids-plan.ts';

export interface DockerfileBuildOptions {
  docker: Docker;
  /** The clone: the repository root. */
  releaseDir: string;
  /** Relative to the repository root (builder-choice.ts `dockerfilePaths`). */
  context: string;
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  tag: string;
  labels: Record<string, string>;
  buildArgs: Record<string, string>;
  /** The build's limits (GASPER_BUILD_MEMORY_MB, GASPER_BUILD_CPU, GASPER_BUILD_PIDS_LIMIT). */
  memoryMb: number;
  cpu: number;
  pidsLimit: number;
  /**
   * The container that holds the pids limit (build-pids.ts), started by the caller or here. Its
   * removal starts when the build ends; the caller awaits `close()`.
   */
  pidsHolder: BuildPidsHolder;
  timeoutMs: number;
  /** Why the build's holder container was killed from outside (the disk watchdog), if it was. */
  killedBecause?: () => string | undefined;
  /** The network RUN steps join: the app's own (the app firewall applies to its bridge). */
  network: string;
  /** This app's image repository and every app image's prefix (dockerfile-scan.ts). */
  ownRepository: string;
  appPrefix: string;
  /**
   * This app's release images on this node: the only cache the build may use. None: no cache at
   * all (the daemon's cache is shared by every tenant; a RUN step's key is its parent and command).
   */
  cacheFrom: string[];
  onLine: (line: string) => Promise<void> | void;
}

/** One message of Docker's build stream (classic builder: JSON objects, one per line). */
interface BuildMessage {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/**
 * `docker build` of the release's Dockerfile through the Engine API, with the context sent as a
 * tar (build-context.ts packs it, with the labels as one LABEL step; `.git` is never sent). The
 * classic builder: BuildKit over the API needs a gRPC session dockerode does not provide. Each output line goes to
 * `onLine` as it comes; a failing step or the time limit fails the build (BuildFailedError, a user
 * error) with the last lines. Intermediate containers are removed whatever happens (`forcerm`),
 * and the image carries `labels` (the installation's, the app's, the release's).
 */
export async function buildDockerfileImage(options: DockerfileBuildOptions): Promise<void> {
  const { docker } = options;
  await assertRealBuildPaths(options.releaseDir, options.context, path.join(options.context, options.dockerfile));
  // The real path: nothing in it is a symlink (checked above), so this is where tar-fs reads.
  const contextDir = await fs.realpath(path.join(options.releaseDir, options.context));
  const text = await fs.readFile(path.join(contextDir, options.dockerfile), 'utf8');
  const problems = scanDockerfile(text, options);
  if (problems.length) throw new ConventionError(`${options.dockerfile}: ${problems.join('; ')}`);
  const context = await packBuildContext({ contextDir, dockerfileText: text, labels: options.labels });
  if (context.entries === 0) {
    context.stream.destroy();
    throw new BuildFailedError(`the build context ${options.context} is empty or not a directory`, []);
  }
  const tail: string[] = [];
  const lines: Promise<void>[] = [];
  const emit = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    lines.push(Promise.resolve(options.onLine(`  ${line}`)));
  };
  let pids: PidsBound;
  try {
    pids = await options.pidsHolder.bound();
  } catch (err) {
    context.stream.destroy();
    throw err;
  }
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, options.timeoutMs);
  let failure: string | undefined;
  let reached: boolean | undefined;
  let finished = false;
  let holderStopped = false;
  void pids.stopped.then(() => {
    if (finished) return;
    holderStopped = true;
    abort.abort();
  });
  try {
    await options.onLine(pids.line);
    const stream = await docker.buildImage(context.stream, {
      t: options.tag,
      dockerfile: context.dockerfile,
      buildargs: options.buildArgs,
      rm: true,
      forcerm: true,
      networkmode: options.network,
      // The Engine API wants JSON in the query; docker-modem would repeat an array's key instead.
      ...(options.cacheFrom.length ? { cachefrom: JSON.stringify(options.cacheFrom) } : { nocache: true }),
      memory: options.memoryMb * 1024 * 1024,
      memswap: options.memoryMb * 1024 * 1024,
      // The steps' cgroups are made inside the holder's, which has the pids limit (build-pids-plan.ts).
      ...(pids.cgroupParent ? { cgroupparent: pids.cgroupParent } : {}),
      cpuperiod: 100_000,
      cpuquota: Math.round(options.cpu * 100_000),
      abortSignal: abort.signal,
    });
    await new Promise<void>((resolve, reject) => {
      let pending = '';
      const handle = (text: string) => {
        if (!text.trim()) return;
        let message: BuildMessage;
        try {
          message = JSON.parse(text) as BuildMessage;
        } catch {
          return emit(text);
        }
        if (message.error) failure = message.errorDetail?.message ?? message.error;
        const out = message.stream ?? message.status ?? message.error;
        // The classic builder sends a lone "\n" after each step's title: not a line of output,
        // and it would take a place in the tail a failure shows.
        if (out?.trim()) for (const line of out.replace(/\n$/, '').split(/\r?\n/)) emit(line);
      };
      stream.on('data', (chunk: Buffer) => {
        const parts = (pending + chunk.toString('utf8')).split('\n');
        pending = parts.pop() ?? '';
        parts.forEach(handle);
      });
      stream.on('end', () => {
        handle(pending);
        resolve();
      });
      stream.on('error', reject);
    });
    // Read before the holder goes: a step that failed because a fork was refused left its peak at the limit.
    if (failure) reached = await pids.reached();
  } catch (err) {
    if (holderStopped)
      throw new BuildFailedError(
        options.killedBecause?.() ??
          'the container holding the build to GASPER_BUILD_PIDS_LIMIT stopped, and the build with it',
        tail.slice(-20),
      );
    if (timedOut)
      throw new BuildFailedError(
        `the Docker build timed out after ${Math.round(options.timeoutMs / 1000)} s (GASPER_BUILD_TIMEOUT_MS)`,
        tail.slice(-20),
      );
    const status = (err as { statusCode?: number }).statusCode;
    // The daemon refuses a bad request (a Dockerfile path it cannot find, a bad option) with a 4xx.
    if (status && status >= 400 && status < 500)
      throw new BuildFailedError(`docker build refused: ${(err as Error).message.split('\n')[0]}`, tail.slice(-20));
    throw err;
  } finally {
    finished = true;
    clearTimeout(timer);
    // Sent whole by now, or not at all when the daemon refused: its files are not read further.
    context.stream.destroy();
    await Promise.all(lines);
    // Not awaited: the removal overlaps what follows (the app's start); the caller awaits close().
    options.pidsHolder.close().catch(() => undefined);
  }
  if (failure && reached)
    throw new BuildFailedError(
      pidsLimitMessage(options.pidsLimit, `the Docker build failed: ${failure}`),
      tail.slice(-20),
    );
  if (failure) throw new BuildFailedError(`the Docker build failed: ${failure}`, tail.slice(-20));
}

/**
 * Refuses a build context or Dockerfile that is, or goes through, a symlink, or leads outside the
 * clone: the API refuses `..` and absolute paths, but a repository may commit `ctx -> ../../..`,
 * and the context is packed and sent to the daemon (the node's state directory, every tenant's
 * clone, could be COPY'd into an image). Symlinks inside the context are packed as symlinks
 * (tar-fs's default, `dereference` false), never followed.
 */
export async function assertRealBuildPaths(releaseDir: string, context: string, dockerfile: string): Promise<void> {
  const contextProblem = await realPathProblem(releaseDir, context, 'directory');
  if (contextProblem === 'symlink' || contextProblem === 'outside')
    throw new ConventionError(
      `dockerfile.context: ${context} is a symlink or goes through one: the build context must be a real folder of the repository`,
    );
  const fileProblem = await realPathProblem(releaseDir, dockerfile, 'file');
  if (fileProblem === 'symlink' || fileProblem === 'outside')
    throw new ConventionError(
      `dockerfile.path: ${dockerfile} is a symlink or goes through one: the Dockerfile must be a real file of the repository`,
    );
}

/** This app's images on this node (every tag of its repository): the build's only cache sources. */
export async function ownCacheImages(docker: Docker, repository: string): Promise<string[]> {
  const images = await docker.listImages({ filters: { reference: [repository] } });
  return images
    .flatMap((i) => i.RepoTags ?? [])
    .filter((t) => t.startsWith(`${repository}:`))
    .sort();
}

/** Whether the image is on this node. */
export async function imageExists(docker: Docker, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** The builder of a release from its clone in `dir` (builder-choice.ts), looking for the Dockerfile on disk. */
export async function chooseReleaseBuilder(
  doc: Pick<AppDocument, 'name' | 'builder' | 'dockerfile' | 'runtime'>,
  dir: string,
): Promise<BuilderChoice> {
  const { dockerfile, context } = dockerfilePaths(doc.dockerfile);
  // The API refuses `..` and absolute paths; a symlinked path (or one through a symlinked folder) is refused here.
  const problem = await realPathProblem(dir, dockerfile, 'file');
  // The top-level names only tell, when the app has neither, which runtime its files suggest.
  const top = new Set(doc.runtime ? [] : await fs.readdir(dir).catch(() => []));
  const choice = chooseBuilder(doc, (p) => (p === dockerfile ? problem !== 'missing' : top.has(p)));
  if (choice.builder === 'dockerfile') await assertRealBuildPaths(dir, context, dockerfile);
  return choice;
}

/**
 * The command of a Dockerfile app's containers: the app's `run`, else none (empty: the image's own
 * CMD/ENTRYPOINT). A Procfile's `web:` is not used: Dockerfile repositories often keep a Procfile
 * for another platform, and the image already says how it runs; the log says it was ignored.
 */
export async function dockerfileRunCommand(
  dir: string,
  run: string | undefined,
): Promise<{ command: string; reason: string }> {
  if (run) return { command: run, reason: 'given by the app' };
  const procfile = (await readRepoListing(dir)).contents.Procfile;
  const web = procfile === undefined ? undefined : parseProcfile(procfile).web;
  return {
    command: '',
    reason: web
      ? 'the image says how it runs; the Procfile web process is not used for a Dockerfile app (set run to use it)'
      : 'the image says how it runs',
  };
}

/** Removes an image if it is there (the containers using it are already gone). */
export async function removeImage(docker: Docker, image: string): Promise<void> {
  try {
    await docker.getImage(image).remove({ force: true });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}
