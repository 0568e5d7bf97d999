import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { requireDocker } from '../support/docker.ts';
import { issueTestCertificate, makeTestCa, type TestCa } from '../support/certificates.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { loadThroughProxy } from '../support/load.ts';
import { startTestPlatform, type JobView, type TestPlatform } from '../support/platform.ts';

const run = promisify(execFile);
const DOMAIN = 'apps.test';

/** A node app answering `<version> <hostname>`. */
function versionApp(version: string): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'tls-app', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': `require('http').createServer((req, res) => res.end('${version} ' + require('os').hostname() + '\\n')).listen(process.env.PORT);\n`,
  };
}

describe('HTTPS through the whole platform (Docker, Redis, git, openssl, curl)', function () {
  this.timeout(240_000);
  let dir: string;
  let ca: TestCa;
  let gasper: TestPlatform;
  const repos: GitFixture[] = [];
  const unique = () => `tls-${crypto.randomBytes(3).toString('hex')}`;
  const httpsPort = () => gasper.platform.proxy!.httpsPort!;

  before(async () => {
    await requireDocker();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-https-'));
    ca = await makeTestCa(dir);
    const cert = await issueTestCertificate(ca, [`*.${DOMAIN}`, DOMAIN], 'platform');
    // A port known before the start: the proxy forwards the platform host there.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const apiPort = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    gasper = await startTestPlatform({
      GASPER_API_PORT: String(apiPort),
      GASPER_DOMAIN: DOMAIN,
      GASPER_TLS_CERT: cert.certFile,
      GASPER_TLS_KEY: cert.keyFile,
      GASPER_DRAIN_GRACE_MS: '300',
      GASPER_STOP_TIMEOUT_S: '2',
      GASPER_HEALTH_TIMEOUT_MS: '60000',
    });
  });
  after(async () => {
    await gasper?.close();
    await Promise.all(repos.map((r) => r.remove()));
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function completed(res: { body: { job: { id: string } } }): Promise<JobView> {
    const job = await gasper.waitForJob(res.body.job.id);
    expect(job.state, `${job.error}\n${job.log.join('\n')}`).to.equal('completed');
    return job;
  }

  async function deploy(name: string, extra: Record<string, unknown> = {}): Promise<GitFixture> {
    const repo = await createGitRepo(versionApp('v1'));
    repos.push(repo);
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url }, runtime: 'node', ...extra })
      .expect(202);
    await completed(res);
    return repo;
  }

  /** curl over HTTPS with the test CA: status, headers and body. */
  async function curlTls(host: string, urlPath = '/'): Promise<{ status: number; headers: string; body: string }> {
    const { stdout } = await run('curl', [
      '-s',
      '-D',
      '-',
      '--max-time',
      '10',
      '--resolve',
      `${host}:${httpsPort()}:127.0.0.1`,
      '--cacert',
      ca.certFile,
      `https://${host}:${httpsPort()}${urlPath}`,
    ]);
    const split = stdout.indexOf('\r\n\r\n');
    const headers = stdout.slice(0, split);
    return { status: Number(headers.split(' ')[1]), headers, body: stdout.slice(split + 4) };
  }

  it('redeploys with zero failed requests under continuous HTTPS load', async () => {
    const name = unique();
    const host = `${name}.${DOMAIN}`;
    const repo = await deploy(name);
    expect((await curlTls(host)).body).to.match(/^v1 /);
    await repo.commit(versionApp('v2'), 'v2');
    let redeployed!: Promise<JobView>;
    const load = loadThroughProxy({
      proxyPort: gasper.proxyPort,
      host,
      https: { port: httpsPort(), ca: await fs.readFile(ca.certFile) },
      ratePerSecond: 100,
      maxMs: 60_000,
      until: (redeployed = (async () => {
        await new Promise((r) => setTimeout(r, 500));
        const res = await gasper.api().post(`/apps/${name}/rebuild`).expect(202);
        const job = await completed(res);
        await new Promise((r) => setTimeout(r, 500));
        return job;
      })()),
    });
    const [result] = await Promise.all([load, redeployed]);
    expect(result.failed, JSON.stringify(result.failures)).to.equal(0);
    expect(result.ok).to.be.greaterThan(100);
    expect(result.bodies).to.deep.equal(['v1', 'v2']);
  });

  it('https "redirect" and hsts set through the API reach the proxy; the API answers at its platform host over HTTPS', async () => {
    const name = unique();
    const host = `${name}.${DOMAIN}`;
    await deploy(name, { https: 'redirect' });
    const plain = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{redirect_url}',
      '-H',
      `Host: ${host}`,
      `http://127.0.0.1:${gasper.proxyPort}/x?y=1`,
    ]);
    expect(plain.stdout).to.equal(`308 https://${host}:${httpsPort()}/x?y=1`);
    expect((await curlTls(host)).headers).to.not.match(/strict-transport-security/i);
    await gasper.api().patch(`/apps/${name}`).send({ hsts: true }).expect(200);
    const deadline = Date.now() + 5000;
    let headers = '';
    while (!/strict-transport-security: max-age=31536000/i.test(headers) && Date.now() < deadline) {
      headers = (await curlTls(host)).headers;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(headers).to.match(/strict-transport-security: max-age=31536000/i);
    // The platform host: the proxy forwards it to the API, over HTTPS.
    const api = await curlTls(`gasper.${DOMAIN}`, '/healthz');
    expect(api.status, api.body).to.equal(200);
  });
});
