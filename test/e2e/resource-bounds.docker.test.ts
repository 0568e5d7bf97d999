import crypto from 'node:crypto';
import { expect } from 'chai';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, helloNodeApp, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

/**
 * What one tenant's build or app may take from the node: memory and CPU of builds, and disk
 * (release directory, writable layer, /tmp). Small limits, so the test reaches them quickly.
 */
describe('resource bounds of builds and apps (Docker, Redis, git)', function () {
  this.timeout(240_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  let hogRepo: GitFixture;
  const unique = () => `rb-${crypto.randomBytes(3).toString('hex')}`;
  const host = (app: string) => `${app}.localhost:${gasper.proxyPort}`;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({
      GASPER_BUILD_MEMORY_MB: '64',
      GASPER_BUILD_CPU: '0.5',
      GASPER_BUILD_PIDS_LIMIT: '200',
      GASPER_APP_DISK_MB: '20',
      GASPER_DISK_CHECK_INTERVAL_MS: '1000',
      GASPER_TMP_MB: '8',
    });
    repo = await createGitRepo(helloNodeApp('hello'));
    hogRepo = await createGitRepo({
      'package.json': JSON.stringify({ name: 'hog', version: '1.0.0' }),
      // GET /fill?into=<file> writes 30 MiB of zeros (real blocks, not a sparse file) there.
      'server.js': `const http = require('http');
const { execFileSync } = require('child_process');
http.createServer((req, res) => {
  const into = new URL(req.url, 'http://x').searchParams.get('into');
  if (into) execFileSync('dd', ['if=/dev/zero', 'of=' + into, 'bs=1M', 'count=30']);
  res.end('hog ' + (into ? 'filled ' + into : 'idle') + '\\n');
}).listen(process.env.PORT);
`,
    });
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
    await hogRepo?.remove();
  });

  async function deploy(body: Record<string, unknown>) {
    const res = await gasper.api().post('/apps').send(body).expect(202);
    return gasper.waitForJob(res.body.job.id);
  }

  it('runs builds under their own limits and fails one that runs out of memory, saying so, without a retry', async () => {
    const name = unique();
    // The build container's limits, seen from inside it (cgroup v1 or v2).
    const probe = [
      'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null | sed "s/^/memory=/"',
      'cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null | sed "s/^/pids=/"',
    ].join('; ');
    const job = await deploy({
      name,
      repo: { url: repo.url },
      runtime: 'node',
      // 256 MiB and no more: without a limit the build passes (and a shared test machine survives).
      build: [probe, 'node -e "const a=[];for(let i=0;i<256;i++)a.push(Buffer.alloc(1<<20,1))"', 'echo never-reached'],
    });
    expect(job.state).to.equal('failed');
    const log = job.log.join('\n');
    expect(log)
      .to.include(`memory=${64 * 1024 * 1024}`)
      .and.include('pids=200');
    expect(job.error)
      .to.include('the build ran out of memory (limit 64 MiB, GASPER_BUILD_MEMORY_MB)')
      .and.include('build command 2');
    expect(log).to.not.include('  never-reached');
    const attempts = (await gasper.api().get(`/jobs/${job.id}`).expect(200)).body.job.attempts;
    expect(attempts.made).to.equal(1);
    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    expect(app.status).to.equal('failed');
    expect(app.lastError).to.include('ran out of memory');
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
    console.log(`      build OOM: ${job.error!.split('\n')[0]}`);
  });

  it('gives app containers a small tmpfs /tmp', async () => {
    const name = unique();
    const job = await deploy({ name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' });
    expect(job.state, job.log.join('\n')).to.equal('completed');
    const [container] = await managedContainers(gasper.nodeId, name);
    const exec = await docker.getContainer(container!.Id).exec({
      Cmd: ['sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1M count=20 2>&1; echo status=$?'],
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve) => stream.on('end', resolve));
    const out = Buffer.concat(chunks).toString('utf8');
    expect(out)
      .to.include('No space left on device')
      .and.match(/status=[1-9]/);
    expect((await viaProxy(gasper.proxyPort, host(name))).status).to.equal(200);
  });

  async function waitFor<T>(what: string, probe: () => Promise<T | false | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const appView = async (name: string) => (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;

  it('stops an app that writes past its disk limit (into /app, into its root filesystem) and reports it, while a neighbour keeps serving', async () => {
    const neighbour = unique();
    const intoApp = unique();
    const intoRoot = unique();
    for (const [name, url] of [
      [neighbour, repo.url],
      [intoApp, hogRepo.url],
      [intoRoot, hogRepo.url],
    ] as const) {
      const job = await deploy({ name, repo: { url }, runtime: 'node', run: 'node server.js' });
      expect(job.state, job.log.join('\n')).to.equal('completed');
    }
    // Two rounds of the watchdog: nobody is stopped for what a fresh release holds.
    await new Promise((r) => setTimeout(r, 2500));
    for (const name of [neighbour, intoApp, intoRoot]) expect((await appView(name)).status).to.equal('running');

    const started = Date.now();
    expect((await viaProxy(gasper.proxyPort, host(intoApp), '/fill?into=/app/fill')).body).to.equal(
      'hog filled /app/fill\n',
    );
    expect((await viaProxy(gasper.proxyPort, host(intoRoot), '/fill?into=/home/app/fill')).body).to.equal(
      'hog filled /home/app/fill\n',
    );
    let served = 0;
    for (const [name, where] of [
      [intoApp, 'release directory 3'],
      [intoRoot, 'container layers 3'],
    ] as const) {
      const crashed = await waitFor(`${name} stopped`, async () => {
        expect((await viaProxy(gasper.proxyPort, host(neighbour))).status).to.equal(200);
        served++;
        const a = await appView(name);
        return a.status === 'crashed' && a;
      });
      expect(crashed.lastError).to.include('over the limit of 20 MiB (GASPER_APP_DISK_MB)').and.include(where);
      expect(crashed.instances).to.deep.equal([]);
      // Stopped with SIGTERM and the stop timeout: the document says so first.
      await waitFor(
        `${name}'s container stopped`,
        async () => (await managedContainers(gasper.nodeId, name))[0]?.State === 'exited',
        30_000,
      );
      expect((await viaProxy(gasper.proxyPort, host(name))).status).to.equal(503);
      console.log(`      ${name} after ${Date.now() - started} ms: ${crashed.lastError}`);
    }
    const neighbourApp = await appView(neighbour);
    expect(neighbourApp.status).to.equal('running');
    expect(neighbourApp.lastError ?? null).to.equal(null);
    for (let i = 0; i < 10; i++)
      expect((await viaProxy(gasper.proxyPort, host(neighbour))).body).to.equal('hello world\n');
    console.log(`      neighbour answered ${served + 10} requests with 200 meanwhile`);
  });

  it('fails a build that writes past the disk limit, with the reason in the job log, without a retry', async () => {
    const name = unique();
    const job = await deploy({
      name,
      repo: { url: repo.url },
      runtime: 'node',
      // /tmp of a build is on its writable layer; the sleep stands for a long build.
      build: ['dd if=/dev/zero of=/tmp/fill bs=1M count=30 2>/dev/null', 'sleep 60', 'echo never-reached'],
    });
    expect(job.state).to.equal('failed');
    // The watchdog may catch dd mid-way: any figure over the limit.
    const used =
      /^the build used (\d+(?:\.\d)?) MiB of disk on node .*over the limit of 20 MiB \(GASPER_APP_DISK_MB\); it was stopped/.exec(
        job.error ?? '',
      );
    expect(used, job.error ?? '').to.not.equal(null);
    expect(Number(used![1])).to.be.above(20);
    expect(job.log.join('\n')).to.include('failed: the build used').and.not.include('  never-reached');
    expect((await gasper.api().get(`/jobs/${job.id}`).expect(200)).body.job.attempts.made).to.equal(1);
    const app = await appView(name);
    expect(app.status).to.equal('failed');
    expect(app.lastError).to.include('GASPER_APP_DISK_MB');
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
    console.log(`      build: ${job.error!.split('\n')[0]}`);
  });

  it("counts a Go build's cache against the disk limit: a build writing 30 MiB into GOCACHE fails saying so", async () => {
    const goRepo = await createGitRepo({
      'go.mod': 'module example.com/fill\n\ngo 1.19\n',
      'main.go': 'package main\n\nfunc main() {}\n',
    });
    try {
      const name = unique();
      const job = await deploy({
        name,
        repo: { url: goRepo.url },
        runtime: 'go',
        // The cache is a bind mount outside the release directory (workers/apps/go-cache.ts).
        build: [
          'mkdir -p "$GOCACHE" && dd if=/dev/zero of="$GOCACHE/fill" bs=1M count=30 2>/dev/null',
          'sleep 60',
          'echo never-reached',
        ],
      });
      expect(job.state, job.log.join('\n')).to.equal('failed');
      expect(job.error ?? '').to.match(
        /^the build used \d+(\.\d)? MiB of disk on node .*build cache \d+(\.\d)? MiB\), over the limit of 20 MiB \(GASPER_APP_DISK_MB\); it was stopped/,
      );
      expect(job.log.join('\n')).not.to.include('  never-reached');
      console.log(`      go build: ${job.error!.split('\n')[0]}`);
    } finally {
      await goRepo.remove();
    }
  });

  it('holds a Dockerfile build to GASPER_BUILD_PIDS_LIMIT (200 here): a RUN step starting 300 sleeps fails the deploy saying so', async () => {
    const dfRepo = await createGitRepo({
      Dockerfile:
        'FROM gasper/base:bookworm\nRUN i=0; while [ $i -lt 300 ]; do sleep 30 & i=$((i+1)); echo started $i; done; wait\n',
    });
    try {
      const name = unique();
      const started = Date.now();
      const job = await deploy({ name, repo: { url: dfRepo.url } });
      const log = job.log.join('\n');
      expect(job.state, log).to.equal('failed');
      expect(job.error ?? '').to.match(
        /^the build reached its process limit \(200 processes and threads, GASPER_BUILD_PIDS_LIMIT\): the Docker build failed: /,
      );
      const most = Math.max(...[...log.matchAll(/started (\d+)/g)].map((m) => Number(m[1])));
      expect(most).to.be.within(190, 200);
      expect((await gasper.api().get(`/jobs/${job.id}`).expect(200)).body.job.attempts.made).to.equal(1);
      // Nothing left: no step, no holder.
      expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
      console.log(
        `      Dockerfile build: ${most} of 300 sleeps started, failed in ${Date.now() - started} ms: ${job.error!.slice(0, 100)}…`,
      );
    } finally {
      await dfRepo.remove();
    }
  });
});
