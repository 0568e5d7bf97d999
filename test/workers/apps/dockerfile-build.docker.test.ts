import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { BuildFailedError } from '../../../src/workers/apps/build.ts';
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

  const otherTag = `gasper-test-app/dfb-other-${crypto.randomBytes(3).toString('hex')}:r000001`;
  const build = async (
    dockerfile: string,
    timeoutMs: number,
    lines: string[] = [],
    more: Partial<Parameters<typeof buildDockerfileImage>[0]> = {},
  ) => {
    await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    return buildDockerfileImage({
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
      timeoutMs,
      onLine: (line) => {
        lines.push(line);
      },
      ...more,
    });
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
});
