import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { BuildFailedError } from '../../../src/workers/apps/build.ts';
import { BuildPidsHolder } from '../../../src/workers/apps/build-pids.ts';
import { buildDockerfileImage, imageExists, removeImage } from '../../../src/workers/apps/dockerfile-build.ts';
import { docker, requireDocker } from '../../support/docker.ts';

/** `docker build` through the Engine API (dockerode): the time limit and the memory limit. */
describe('buildDockerfileImage (Docker)', function () {
  this.timeout(120_000);
  const base = 'gasper/base:bookworm';
  let dir: string;
  const tag = `gasper-test-app/dfb-${crypto.randomBytes(3).toString('hex')}:r000001`;
  const marker = `dfb-${crypto.randomBytes(4).toString('hex')}`;

  before(async () => {
    await requireDocker();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-dfb-'));
  });
  after(async () => {
    await removeImage(docker, tag);
    await removeImage(docker, otherTag);
    await fs.rm(dir, { recursive: true, force: true });
  });

  const holder = `gasper-test-dfb-holder-${crypto.randomBytes(3).toString('hex')}`;
  const otherTag = `gasper-test-app/dfb-other-${crypto.randomBytes(3).toString('hex')}:r000001`;
  const newHolder = (limit: number) =>
    new BuildPidsHolder(docker, { name: holder, image: base, labels: { 'io.gasper.test': marker }, limit });
  const build = async (
    dockerfile: string,
    timeoutMs: number,
    lines: string[] = [],
    more: Partial<Parameters<typeof buildDockerfileImage>[0]> = {},
  ) => {
    await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    const pidsHolder = more.pidsHolder ?? newHolder(more.pidsLimit ?? 1024);
    // As the deploy does: the build starts the holder's removal, the caller awaits it.
    try {
      return await buildDockerfileImage({
        network: 'bridge',
        ownRepository: tag.split(':')[0]!,
        appPrefix: 'gasper-test-app/',
        cacheFrom: [],
        docker,
        releaseDir: dir,
        context: '.',
        dockerfile: 'Dockerfile',
        tag,
        labels: { 'io.gasper.test': marker },
        buildArgs: {},
        memoryMb: 64,
        cpu: 1,
        pidsLimit: 1024,
        timeoutMs,
        onLine: (line) => {
          lines.push(line);
        },
        ...more,
        pidsHolder,
      });
    } finally {
      await pidsHolder.close();
    }
  };

  it('stops a build at its time limit and leaves no step running', async () => {
    const started = Date.now();
    const err = await build(`FROM ${base}\nRUN echo ${marker} && sleep 60\n`, 3000).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BuildFailedError);
    expect((err as Error).message).to.include('timed out after 3 s');
    expect(Date.now() - started).to.be.lessThan(15_000);
    // The daemon cancels the step when the request goes: no container still runs `sleep 60`.
    let running: string[] = [];
    for (let i = 0; i < 20; i++) {
      const all = await docker.listContainers({ all: true });
      running = all.filter((c) => c.Command.includes(marker)).map((c) => c.Id);
      if (running.length === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(running).to.deep.equal([]);
    expect(await imageExists(docker, tag)).to.equal(false);
  });

  it('runs each step under the build memory limit (64 MiB here)', async () => {
    const lines: string[] = [];
    await build(
      `FROM ${base}\nRUN cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes\n`,
      60_000,
      lines,
    );
    expect(lines.join('\n')).to.include(String(64 * 1024 * 1024));
    const image = await docker.getImage(tag).inspect();
    expect(image.Config.Labels).to.have.property('io.gasper.test', marker);
  });

  it("refuses FROM another app's image before building, with a clear message", async () => {
    await removeImage(docker, tag);
    const err = await build(`FROM gasper-test-app/someone-else:r000001\nRUN true\n`, 60_000).catch((e: unknown) => e);
    expect((err as Error).message).to.include("another app's image");
    expect(await imageExists(docker, tag)).to.equal(false);
  });

  it("never reuses another app's layer: with no image of its own, the build uses no cache", async () => {
    const dockerfile = `FROM ${base}\nRUN echo ${marker}-cache && head -c 8 /dev/urandom | od -An -tx1 > /secret\n`;
    // "Another tenant" builds first, under its own repository.
    await build(dockerfile, 60_000, [], { tag: otherTag, ownRepository: otherTag.split(':')[0]! });
    const lines: string[] = [];
    await build(dockerfile, 60_000, lines);
    expect(lines.join('\n')).not.to.include('Using cache');
    // With its own image as the cache source, the app's next build reuses its own layers.
    const again: string[] = [];
    await build(dockerfile, 60_000, again, { cacheFrom: [tag] });
    expect(again.join('\n')).to.include('Using cache');
  });

  it('holds the RUN steps together to the pids limit: 300 background sleeps with a limit of 100 fail the build naming GASPER_BUILD_PIDS_LIMIT', async () => {
    await removeImage(docker, tag);
    const lines: string[] = [];
    const started = Date.now();
    const err = await build(
      `FROM ${base}\nRUN i=0; while [ $i -lt 300 ]; do sleep 30 & i=$((i+1)); echo started $i; done; wait\n`,
      60_000,
      lines,
      { pidsLimit: 100 },
    ).catch((e: unknown) => e);
    const log = lines.join('\n');
    expect(err, log).to.be.instanceOf(BuildFailedError);
    expect((err as Error).message).to.match(
      /^the build reached its process limit \(100 processes and threads, GASPER_BUILD_PIDS_LIMIT\): the Docker build failed: /,
    );
    expect(log).to.include(
      'pids: the RUN steps together run at most 100 processes and threads (GASPER_BUILD_PIDS_LIMIT)',
    );
    // Bounded: the step's shell and sleeps (and the holder's own sleep) stop short of 100, far from 300.
    const most = Math.max(...[...log.matchAll(/started (\d+)/g)].map((m) => Number(m[1])));
    expect(most).to.be.within(90, 100);
    console.log(`      the step started ${most} of its 300 sleeps; the build failed in ${Date.now() - started} ms`);
    expect(log).to.include('Cannot fork');
    expect(Date.now() - started).to.be.lessThan(30_000);
    // The holder and the step's container are gone; no image was tagged.
    expect(await docker.listContainers({ all: true, filters: { name: [holder] } })).to.deep.equal([]);
    expect(await imageExists(docker, tag)).to.equal(false);
  });

  it("a build under the limit passes, its step inside the holder's cgroup, and leaves no holder", async () => {
    await removeImage(docker, tag);
    const lines: string[] = [];
    await build(`FROM ${base}\nRUN grep pids /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max\n`, 60_000, lines, {
      pidsLimit: 100,
    });
    const log = lines.join('\n');
    // The step's own cgroup has no limit of its own: the holder's, above it, bounds it.
    expect(log).to.match(/pids:\/docker\/[0-9a-f]{64}\/[0-9a-f]{64}/);
    expect(await docker.listContainers({ all: true, filters: { name: [holder] } })).to.deep.equal([]);
  });

  it('uses a holder started early (beside the clone), and one a build never reached is removed by close', async () => {
    await removeImage(docker, tag);
    const early = newHolder(100);
    early.startEarly();
    await early.bound();
    expect(await docker.listContainers({ filters: { name: [holder] } })).to.have.length(1);
    const lines: string[] = [];
    await build(`FROM ${base}\nRUN cat /sys/fs/cgroup/pids/pids.max\n`, 60_000, lines, {
      pidsHolder: early,
      pidsLimit: 100,
    });
    expect(lines.join('\n')).to.include('pids: the RUN steps together run at most 100 processes and threads');
    expect(await docker.listContainers({ all: true, filters: { name: [holder] } })).to.deep.equal([]);
    // Closed for good: a late caller starts no second holder.
    const late = await early.bound().catch((e: unknown) => e);
    expect(String(late)).to.include('is closed');

    // A deploy whose clone fails after the holder started: close removes it.
    const orphan = newHolder(100);
    orphan.startEarly();
    await orphan.bound();
    expect(await docker.listContainers({ filters: { name: [holder] } })).to.have.length(1);
    await orphan.close();
    expect(await docker.listContainers({ all: true, filters: { name: [holder] } })).to.deep.equal([]);
  });

  it('stops the build when its holder is killed (the disk watchdog), with the reason given', async () => {
    await removeImage(docker, tag);
    const lines: string[] = [];
    const started = Date.now();
    const building = build(`FROM ${base}\nRUN echo ${marker}-held && sleep 30\n`, 60_000, lines, {
      killedBecause: () => 'the build used 30 MiB of disk, over the limit (GASPER_APP_DISK_MB); it was stopped',
    }).catch((e: unknown) => e);
    // Killed once the step runs inside it, as the watchdog does (docker kill of the build container).
    for (let i = 0; i < 100 && !lines.some((l) => l.includes(`${marker}-held`)); i++)
      await new Promise((r) => setTimeout(r, 100));
    await docker.getContainer(holder).kill();
    const err = await building;
    expect(err, lines.join('\n')).to.be.instanceOf(BuildFailedError);
    expect((err as Error).message).to.equal(
      'the build used 30 MiB of disk, over the limit (GASPER_APP_DISK_MB); it was stopped',
    );
    expect(Date.now() - started).to.be.lessThan(20_000);
    expect(await imageExists(docker, tag)).to.equal(false);
    expect(await docker.listContainers({ all: true, filters: { name: [holder] } })).to.deep.equal([]);
    // The daemon cancels the step with the request: none still runs its sleep.
    let running: string[] = [];
    for (let i = 0; i < 20; i++) {
      running = (await docker.listContainers({ all: true }))
        .filter((c) => c.Command.includes(`${marker}-held`))
        .map((c) => c.Id);
      if (running.length === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(running).to.deep.equal([]);
  });
});
