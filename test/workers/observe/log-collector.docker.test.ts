import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { keys } from '../../../src/core/keys.ts';
import { createLogger } from '../../../src/core/log.ts';
import { scopeLabels } from '../../../src/core/installation.ts';
import { containerLabels } from '../../../src/core/naming.ts';
import { connectRedis } from '../../../src/core/redis.ts';
import { AppLogStore } from '../../../src/store/app-logs.ts';
import { startLogCollector, type LogCollectorHandle } from '../../../src/workers/observe/log-collector.ts';
import { docker, removeNodeContainers, requireDocker } from '../../support/docker.ts';
import { startTestRedis } from '../../support/redis.ts';

/**
 * The log collector against a real Docker daemon: it finds app containers by label (whoever
 * created them), and a restarted collector resumes each container where the last one stopped.
 */
describe('log collector (Docker, Redis)', function () {
  this.timeout(120_000);
  const node = `t-${crypto.randomBytes(4).toString('hex')}`;
  const scope = { installation: crypto.randomBytes(4).toString('hex'), node };
  const app = `logs-${crypto.randomBytes(3).toString('hex')}`;
  const log = createLogger('silent');
  let redisHandle: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let store: AppLogStore;
  let collector: LogCollectorHandle | undefined;

  before(async () => {
    await requireDocker();
    redisHandle = await startTestRedis();
    redis = connectRedis(redisHandle.url);
    store = new AppLogStore(redis);
    await redis.set(keys.app(app), '{}'); // lines are kept only for an app that exists
  });
  afterEach(async () => {
    await collector?.close();
    collector = undefined;
  });
  after(async () => {
    await removeNodeContainers(node);
    redis?.disconnect();
    await redisHandle?.close();
  });

  async function run(role: string, name: string, script: string) {
    const container = await docker.createContainer({
      name: `${name}-${node}`,
      Image: 'gasper/base:bookworm',
      Cmd: ['sh', '-c', script],
      Labels: {
        ...scopeLabels(scope),
        [containerLabels.app]: app,
        [containerLabels.release]: 'r000001',
        [containerLabels.role]: role,
      },
    });
    await container.start();
    return container;
  }

  async function texts(): Promise<string[]> {
    return (await store.tail(app, 10_000)).lines.map((l) => l.text);
  }

  async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('follows app containers it did not create, resumes after a restart without gaps or duplicates, and skips other roles', async () => {
    collector = startLogCollector({ scope }, { docker, store, log });
    const counter = await run(
      'app',
      'counter',
      'i=0; while [ $i -lt 150 ]; do i=$((i+1)); echo "line-$i"; sleep 0.01; done; sleep 600',
    );
    await run('build', 'builder', 'echo "build container output"; sleep 600');
    await until('first lines', async () => (await texts()).length >= 20);
    await until('the build container to be left alone', async () => collector!.following().join() === counter.id);
    await collector.close();

    // Lines printed while no collector runs are picked up from the stored resume point.
    await new Promise((r) => setTimeout(r, 700));
    collector = startLogCollector({ scope }, { docker, store, log });
    // Generous: the lines come as fast as a loaded machine forks `sleep`.
    await until('all 150 lines', async () => (await texts()).length >= 150, 50_000).catch(async (err) => {
      const got = await texts();
      const printed = ((await counter.logs({ stdout: true, follow: false })) as unknown as Buffer)
        .toString()
        .split('\n').length;
      throw new Error(
        `${err.message}: ${got.length} lines, last ${got.at(-1)}; printed ${printed}; following ${collector!.following().length}`,
      );
    });
    const lines = await texts();
    expect(lines).to.deep.equal(Array.from({ length: 150 }, (_, i) => `line-${i + 1}`));

    const { lines: stored } = await store.tail(app, 1);
    expect(stored[0]).to.include({ instance: `counter-${node}`, release: 'r000001', stream: 'stdout' });

    // Removing the container ends its follow and drops its resume point.
    await counter.remove({ force: true });
    await until('the follow to end', async () => collector!.following().length === 0);
    await until('the cursor to go', async () => (await redis.hexists(keys.appLogCursors(app), counter.id)) === 0);
  });

  it('collects each run of a container Docker restarts, once', async () => {
    collector = startLogCollector({ scope }, { docker, store, log });
    const before = (await texts()).length;
    const restarted = await run('app', 'restarted', 'echo "boot $(cat /proc/uptime)"; sleep 600');
    await until('the first boot line', async () => (await texts()).length === before + 1);
    await restarted.restart({ t: 0 });
    await until('the second boot line', async () => (await texts()).length === before + 2);
    await new Promise((r) => setTimeout(r, 500));
    const boots = (await texts()).slice(before);
    expect(boots).to.have.length(2);
    expect(boots[0]).to.match(/^boot /);
    expect(boots[1])
      .to.match(/^boot /)
      .and.not.equal(boots[0]);
  });

  it('an app printing 16 KiB lines stays within the byte budget in Redis, each line cut and marked', async () => {
    const loud = `loud-${crypto.randomBytes(3).toString('hex')}`;
    await redis.set(keys.app(loud), '{}');
    const bounded = new AppLogStore(redis, { maxBytes: 1024 * 1024, maxLineBytes: 4096 });
    collector = startLogCollector({ scope }, { docker, store: bounded, log });
    const printed = 1500; // 24 MiB of output
    const container = await docker.createContainer({
      name: `loud-${node}`,
      Image: 'gasper/base:bookworm',
      // About 16,375 characters and a newline: one line each, just under Docker's own 16 KiB split.
      Cmd: [
        'sh',
        '-c',
        `l=$(head -c 16370 /dev/zero | tr '\\0' x); i=1000; while [ $i -lt ${1000 + printed} ]; do i=$((i+1)); echo "$i $l"; done; echo done; sleep 600`,
      ],
      Labels: {
        ...scopeLabels(scope),
        [containerLabels.app]: loud,
        [containerLabels.release]: 'r000001',
        [containerLabels.role]: 'app',
      },
    });
    await container.start();
    const last = async () => (await bounded.tail(loud, 1)).lines[0]?.text;
    await until('the last line', async () => (await last()) === 'done', 90_000);
    const memory = Number(await redis.call('MEMORY', 'USAGE', keys.appLogs(loud), 'SAMPLES', '0'));
    const { lines } = await bounded.tail(loud, 10_000);
    console.log(
      `      ${printed} lines of 16 KiB printed (24 MiB): ${lines.length} kept, MEMORY USAGE ${memory} bytes (budget 1 MiB, lines cut at 4 KiB)`,
    );
    expect(memory).to.be.below(1.4 * 1024 * 1024);
    expect(lines.length).to.be.above(150);
    const cut = lines.slice(0, -1);
    for (const line of cut) {
      expect(Buffer.byteLength(line.text)).to.be.at.most(4096);
      expect(line.text).to.match(/^\d{4} x+… \[truncated 12,\d{3} bytes\]$/);
    }
    // The newest lines are the ones kept.
    expect(cut.at(-1)!.text.startsWith(`${1000 + printed} `)).to.equal(true);
    await container.remove({ force: true });
  });
});
