import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { DomainStore } from '../../src/store/domains.ts';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from '../api/api-fixture.ts';
import { launchTestBrowser, type TestBrowser } from '../support/browser.ts';

const artifacts = path.resolve('test-artifacts/dashboard');

/**
 * The dashboard's Domains section in a real headless Chromium, against the API served in-process
 * (real Redis; no Docker: the app's deploy never runs, and the certificates service is stood in
 * for by writing the domain's status the way it does).
 */
describe("web dashboard: an app's custom domains, in headless Chromium (real Redis)", function () {
  this.timeout(120_000);
  let fx: ApiFixture;
  let server: http.Server;
  let base: string;
  let browser: TestBrowser;
  let page: Page;
  const app = appName('dash');
  const domain = `shop-${suffix()}.example.com`;
  const domainRow = (name = domain) => page.locator(`#domains-body tr[data-domain="${name}"]`);

  before(async () => {
    fx = await startApiFixture({ domain: 'apps.example.net', proxyAddresses: ['203.0.113.7'] });
    await fx.registerNode(`n-${suffix()}`);
    await fx.post('/apps').send(validBody(app)).expect(202);
    server = http.createServer(fx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchTestBrowser({ artifacts });
    ({ page } = browser);
    await browser.openDashboard(`${base}/dashboard/`);
    await page.getByLabel('API token').fill(fx.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator(`#apps-body tr[data-app="${app}"]`).waitFor();
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  it("opens the app's Domains section, empty", async () => {
    await page.getByRole('button', { name: `Custom domains of ${app}` }).click();
    await page.locator('#domains-title', { hasText: `Domains of ${app}` }).waitFor();
    await page.locator('#domains-empty').waitFor();
  });

  it("shows the API's field error next to the input for a bad name", async () => {
    await page.getByLabel('Add a domain').fill('*.example.com');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator('#d-domain-error', { hasText: 'wildcards are not supported' }).waitFor();
    expect(await page.getByLabel('Add a domain').getAttribute('aria-invalid')).to.equal('true');
    await page.getByLabel('Add a domain').fill('shop.apps.example.net');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator('#d-domain-error', { hasText: '<app>.apps.example.net' }).waitFor();
  });

  it('adds a domain: the DNS records to create, then pending in the list', async () => {
    await page.getByLabel('Add a domain').fill(domain);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator('#domains-message', { hasText: 'A 203.0.113.7' }).waitFor();
    expect(await page.locator('#domains-message').textContent()).to.include(`CNAME ${app}.apps.example.net`);
    await domainRow().locator('.badge', { hasText: 'pending' }).waitFor();
    expect(await fx.redis.exists(`gasper:domain:${domain}`)).to.equal(1);
    await page.screenshot({ path: path.join(artifacts, 'domains-01-pending.png'), fullPage: true });
  });

  it('follows the status the certificates service writes: failed with the error, then issued', async () => {
    const problem = `DNS: ${domain} points to 198.51.100.1, not to this platform. Point its A/AAAA records to 203.0.113.7.`;
    const store = new DomainStore(fx.redis);
    await store.update(domain, (d) => ({
      ...d,
      status: 'failed',
      lastError: `${problem} Gasper tries again at 2027-01-02 03:04:05 UTC.`,
      nextAttemptAt: '2027-01-02T03:04:05.000Z',
    }));
    await domainRow().locator('.badge', { hasText: 'failed' }).waitFor({ timeout: 20_000 });
    // The stored message says when the next try is; the page says it once.
    expect(await domainRow().locator('.domain-problem').textContent()).to.equal(
      `${problem} Gasper tries again at 2027-01-02 03:04:05 UTC.`,
    );
    await page.screenshot({ path: path.join(artifacts, 'domains-02-failed.png'), fullPage: true });
    await store.update(domain, (d) => ({
      ...d,
      status: 'issued',
      lastError: undefined,
      nextAttemptAt: undefined,
      certificate: {
        issuer: 'Pebble Intermediate CA',
        notBefore: 'x',
        notAfter: '2027-03-01T00:00:00.000Z',
        version: 'v1',
      },
    }));
    await domainRow().locator('.badge', { hasText: 'issued' }).waitFor({ timeout: 20_000 });
    expect(await domainRow().textContent()).to.include('Pebble Intermediate CA, until 2027-03-01 00:00 UTC');
  });

  it("saves the app's HTTPS settings (redirect, HSTS), shows them when opened again, and says what they do", async () => {
    expect(await page.locator('#edge-https').inputValue()).to.equal('allow');
    expect(await page.locator('#edge-hsts').isChecked()).to.equal(false);
    await page.getByLabel('Plain HTTP').selectOption('redirect');
    await page.getByLabel(/HSTS/).check();
    await page.getByRole('button', { name: 'Save HTTPS settings' }).click();
    await page
      // The issued domain is the one name with a certificate (this API has no platform certificate).
      .locator('#domains-message', { hasText: `plain HTTP to ${domain} is redirected to HTTPS; HSTS on` })
      .waitFor({ timeout: 20_000 });
    expect(await fx.apps.get(app)).to.deep.include({ https: 'redirect', hsts: true });
    await page.locator('#domains-close').click();
    await page.getByRole('button', { name: `Custom domains of ${app}` }).click();
    await page.waitForFunction(() => (document.querySelector('#edge-https') as HTMLSelectElement).value === 'redirect');
    expect(await page.locator('#edge-hsts').isChecked()).to.equal(true);
  });

  it('removes a domain after a confirmation', async () => {
    page.once('dialog', (dialog) => void dialog.accept());
    await domainRow()
      .getByRole('button', { name: `Remove ${domain}` })
      .click();
    await page.locator('#domains-message', { hasText: `${domain} removed` }).waitFor();
    await domainRow().waitFor({ state: 'detached' });
    expect(await fx.redis.exists(`gasper:domain:${domain}`)).to.equal(0);
    expect(browser.problems, browser.problems.join('\n')).to.deep.equal([]);
  });
});
