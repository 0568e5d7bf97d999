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
  });
  after(async () => {
    await gasper?.close();
    await repo?.remove();
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
      name, repo: { url: repo.url }, runtime: 'node',
      // 256 MiB and no more: without a limit the build passes (and a shared test machine survives).
      build: [probe, 'node -e "const a=[];for(let i=0;i<256;i++)a.push(Buffer.alloc(1<<20,1))"', 'echo never-reached'],
    });
    expect(job.state).to.equal('failed');
    const log = job.log.join('\n');
    expect(log).to.include(`memory=${64 * 1024 * 1024}`).and.include('pids=200');
    expect(job.error).to.include('the build ran out of memory (limit 64 MiB, GASPER_BUILD_MEMORY_MB)').and.include('build command 2');
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
      Cmd: ['sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1M count=20 2>&1; echo status=$?'], AttachStdout: true, AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve) => stream.on('end', resolve));
    const out = Buffer.concat(chunks).toString('utf8');
    expect(out).to.include('No space left on device').and.match(/status=[1-9]/);
    expect((await viaProxy(gasper.proxyPort, host(name))).status).to.equal(200);
  });
});
