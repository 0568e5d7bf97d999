import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { DomainStore } from '../../src/store/domains.ts';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from '../api/api-fixture.ts';
import { ensureCliBuilt, runGasper } from '../support/cli.ts';

/** `gasper domains …` as a user runs it, against the API served in-process on a loopback port. */
describe('gasper domains (CLI against the API, real Redis)', function () {
  // The first run may compile the CLI (ensureCliBuilt); each run after is a fraction of a second.
  this.timeout(300_000);
  let fx: ApiFixture;
  let server: http.Server;
  let env: Record<string, string>;
  let app: string;

  const gasper = (args: string[]) => runGasper(args, env);

  before(async () => {
    await ensureCliBuilt();
    fx = await startApiFixture({ domain: 'apps.example.net', proxyAddresses: ['203.0.113.7'] });
    await fx.registerNode(`n-${suffix()}`);
    server = http.createServer(fx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    env = { GASPER_URL: `http://127.0.0.1:${port}`, GASPER_TOKEN: fx.token };
    app = appName('web');
    await fx.post('/apps').send(validBody(app)).expect(202);
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  it('adds a domain and says what to do next (DNS records, automatic certificate, how to watch)', async () => {
    const domain = `shop-${suffix()}.example.com`;
    const res = await gasper(['domains', 'add', app, domain]);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.include(`${domain} added to ${app} (pending)`);
    expect(res.stdout).to.match(new RegExp(`${domain.replace(/\./g, '\\.')}\\.\\s+A\\s+203\\.0\\.113\\.7`));
    expect(res.stdout).to.include(`CNAME ${app}.apps.example.net.`);
    expect(res.stdout).to.include('issued automatically');
    expect(res.stdout).to.include(`gasper domains list ${app}`);
  });

  it('lists status, notAfter and the error in words; --json gives the API body', async () => {
    const [ok, bad] = [`ok-${suffix()}.example.com`, `bad-${suffix()}.example.com`];
    for (const d of [ok, bad]) expect((await gasper(['domains', 'add', app, d])).code).to.equal(0);
    const store = new DomainStore(fx.redis);
    await store.update(ok, (d) => ({
      ...d,
      status: 'issued',
      certificate: { issuer: 'Pebble', notBefore: 'x', notAfter: '2027-03-01T00:00:00.000Z', version: 'v1' },
    }));
    await store.update(bad, (d) => ({
      ...d,
      status: 'failed',
      lastError: 'DNS does not point here: it resolves to 198.51.100.1',
    }));
    const res = await gasper(['domains', 'list', app]);
    expect(res.code, res.stderr).to.equal(0);
    const lines = res.stdout.split('\n');
    expect(lines[0]).to.match(/^DOMAIN\s+STATUS\s+ISSUER\s+NOT AFTER\s+ERROR$/);
    expect(lines.find((l) => l.startsWith(ok))).to.match(/issued\s+Pebble\s+2027-03-01 00:00 UTC\s+-$/);
    expect(lines.find((l) => l.startsWith(bad))).to.match(
      /failed .*DNS does not point here: it resolves to 198\.51\.100\.1$/,
    );
    const json = await gasper(['--json', 'domains', 'list', app]);
    expect(JSON.parse(json.stdout).domains.map((d: { domain: string }) => d.domain)).to.include.members([ok, bad]);
  });

  it('add --wait follows until the certificate is issued', async () => {
    const domain = `wait-${suffix()}.example.com`;
    const running = gasper(['domains', 'add', '--wait', app, domain]);
    // Stands in for the certificates service (tested on its own with a real CA).
    const store = new DomainStore(fx.redis);
    for (let i = 0; i < 1200 && !(await store.get(domain)); i++) await new Promise((r) => setTimeout(r, 50));
    await store.update(domain, (d) => ({
      ...d,
      status: 'issued',
      certificate: { issuer: 'Pebble', notBefore: 'x', notAfter: '2027-03-01T00:00:00.000Z', version: 'v1' },
    }));
    const res = await running;
    expect(res.code, res.stderr).to.equal(0);
    // What to do next comes first, then the outcome (stderr shows each status seen while polling).
    expect(res.stdout).to.include(`${domain} added to ${app} (pending)`);
    expect(res.stderr).to.include(`${domain}: issued`);
    expect(res.stdout).to.include(`${domain}: certificate issued by Pebble, valid until 2027-03-01 00:00 UTC`);
  });

  it('refuses a bad name naming the field, and a taken one, with exit code 1', async () => {
    const bad = await gasper(['domains', 'add', app, '*.example.com']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('domain: wildcards are not supported');
    const domain = `dup-${suffix()}.example.com`;
    expect((await gasper(['domains', 'add', app, domain])).code).to.equal(0);
    const taken = await gasper(['domains', 'add', app, domain]);
    expect(taken.code).to.equal(1);
    expect(taken.stderr).to.include('already a domain of this app');
  });

  it('removes a domain; removing it again fails with the reason', async () => {
    const domain = `rm-${suffix()}.example.com`;
    expect((await gasper(['domains', 'add', app, domain])).code).to.equal(0);
    const res = await gasper(['domains', 'remove', app, domain]);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.include(`${domain} removed from ${app}`);
    const again = await gasper(['domains', 'rm', app, domain]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include(`has no domain "${domain}"`);
  });
});
