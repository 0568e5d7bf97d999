import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { suffix } from '../api/api-fixture.ts';
import { startPebble, type PebbleHandle } from '../support/pebble.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { freePort } from '../support/service-processes.ts';

const run = promisify(execFile);

/**
 * The whole platform as `gasper up` starts it (API, worker with the certificates service, proxy
 * with HTTPS), configured only through GASPER_ACME_* variables, against pebble on loopback: the
 * wiring from configuration to a certificate served.
 */
describe('certificates: the platform with GASPER_ACME on, against pebble (Docker for the worker)', function () {
  this.timeout(180_000);
  let pebble: PebbleHandle;
  let gasper: TestPlatform;
  let dir: string;

  before(async () => {
    // pebble validates HTTP-01 on the proxy's port: choose it before either starts.
    const proxyPort = await freePort();
    pebble = await startPebble({ httpPort: proxyPort });
    gasper = await startTestPlatform({
      GASPER_PROXY_PORT: String(proxyPort),
      GASPER_ACME: '1',
      GASPER_ACME_DIRECTORY: pebble.directoryUrl,
      GASPER_ACME_CA_CERT: pebble.listenerCaFile,
      GASPER_ACME_DNS_SERVERS: pebble.dnsServer,
      GASPER_ACME_EMAIL: 'ops@example.com',
      GASPER_DNS_PROXY_ADDRESSES: '127.0.0.1',
    });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-acme-platform-'));
  });

  after(async () => {
    await gasper?.close();
    await pebble?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('issues a custom domain added through the API and serves it over HTTPS', async () => {
    const app = `web-${suffix()}`;
    // The app's repository does not exist: its deploy fails, which the domain does not need.
    await gasper
      .api()
      .post('/apps')
      .send({ name: app, repo: { url: 'file:///nonexistent/repo.git' }, runtime: 'node' })
      .expect(202);
    const domain = `www.${app}.example.com`;
    const started = Date.now();
    const added = await gasper.api().post(`/apps/${app}/domains`).send({ domain }).expect(202);
    // The ownership proof (GASPER_DOMAIN_VERIFICATION, on by default), in pebble's mock DNS.
    await pebble.setTxt(added.body.domain.verification.name, added.body.domain.verification.value);
    const job = await gasper.waitForJob(added.body.job.id, 60_000);
    expect(job.state, job.error ?? '').to.equal('completed');
    const view = (await gasper.api().get(`/apps/${app}/domains/${domain}`).expect(200)).body.domain;
    console.log(`      issued in ${Date.now() - started} ms through the platform`);
    expect(view.status).to.equal('issued');
    expect(JSON.stringify(view)).to.match(/Pebble Intermediate CA/);

    const rootFile = path.join(dir, 'root.pem');
    await fs.writeFile(rootFile, await pebble.root());
    const httpsPort = gasper.platform.proxy!.httpsPort!;
    // The proxy loads the certificate on the domain.state event: give it a moment.
    let out = '';
    for (let i = 0; i < 50; i++) {
      const result = await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{ssl_verify_result}',
        '--resolve',
        `${domain}:${httpsPort}:127.0.0.1`,
        '--cacert',
        rootFile,
        `https://${domain}:${httpsPort}/`,
      ]).catch((err: { stderr?: string }) => ({ stdout: `error ${err.stderr ?? ''}` }));
      out = result.stdout;
      if (!out.startsWith('error')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // TLS verified against pebble's root (0); the app never ran (no route, or no instance), so
    // the proxy itself answers.
    expect(out).to.match(/^(404|503) 0$/);
  });
});
