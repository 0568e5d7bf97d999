import crypto from 'node:crypto';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { launchTestBrowser, type TestBrowser } from '../support/browser.ts';
import { requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

const artifacts = path.resolve('test-artifacts/dashboard');

/** A node app that prints one line per request. */
const chattyApp = {
  'server.js': `const http = require('http');
http.createServer((req, res) => {
  console.log('request ' + req.url);
  res.end('ok\\n');
}).listen(process.env.PORT, () => console.log('listening on ' + process.env.PORT));
`,
};

/**
 * The dashboard in a real headless Chromium against the whole platform (Docker, Redis, a git
 * repository): sign-in, the create form with the API's field errors, a deploy followed to 100%,
 * live logs of a request made through the proxy, restart, delete. A screenshot of each step goes
 * to test-artifacts/dashboard/.
 */
describe('web dashboard in headless Chromium (Docker, Redis, git)', function () {
  this.timeout(240_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  let browser: TestBrowser;
  let page: Page;
  const name = `dash-${crypto.randomBytes(3).toString('hex')}`;
  const row = () => page.locator(`#apps-body tr[data-app="${name}"]`);

  async function shot(file: string): Promise<void> {
    await page.screenshot({ path: path.join(artifacts, file), fullPage: true });
  }

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform();
    repo = await createGitRepo(chattyApp);
    browser = await launchTestBrowser({ artifacts });
    ({ page } = browser);
  });
  after(async () => {
    await browser?.close();
    await gasper?.close();
    await repo?.remove();
  });

  it('serves the page under a strict Content-Security-Policy, without a token', async () => {
    const res = await browser.openDashboard(`${gasper.apiUrl}/dashboard/`);
    expect(res?.status()).to.equal(200);
    const csp = res!.headers()['content-security-policy']!;
    expect(csp).to.include("default-src 'none'").and.include("script-src 'self'").and.include("connect-src 'self'");
    expect(csp).to.not.include('unsafe-inline');
    await page.getByLabel('API token').waitFor();
    await shot('01-sign-in.png');
  });

  it('refuses a wrong token, then signs in with the right one (kept in sessionStorage)', async () => {
    await page.getByLabel('API token').fill('gsp_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#token-error', { hasText: 'not accepted' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('gasper.token'))).to.equal(null);
    await shot('02-wrong-token.png');

    await page.getByLabel('API token').fill(gasper.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#user-name', { hasText: 'admin' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('gasper.token'))).to.equal(gasper.token);
    expect(await page.evaluate(() => document.cookie)).to.equal('');
    await page.locator('#apps-empty').waitFor();
    await shot('03-signed-in.png');
  });

  it('shows the API field error next to the field, then creates the app and follows its deploy to 100%', async () => {
    await page.getByLabel('Name').fill('Not_A_Valid_Name');
    // The Source tab of the Manage panel has a repository URL too: the create form's.
    await page.locator('#create-form').getByLabel('Repository URL').fill(repo.url);
    await page.locator('#create-form').getByLabel('Runtime').selectOption('node');
    // Markup in the build output must come out as text.
    await page.locator('#create-form').getByLabel('Build commands').fill('echo "<b id=injected>build-says-hi</b>"');
    await page.locator('#create-form').getByLabel('Run command').fill('node server.js');
    await page.getByLabel('Environment').fill('GREETING=hi');
    await page.getByRole('button', { name: 'Create and deploy' }).click();
    const nameError = page.locator('#f-name-error');
    await nameError.filter({ hasText: /./ }).waitFor();
    expect(await page.getByLabel('Name').getAttribute('aria-invalid')).to.equal('true');
    expect(await page.locator('#f-repo-error').innerText()).to.equal('');
    // Nothing was created.
    await gasper.api().get('/apps/not-a-valid-name').expect(404);
    await shot('04-field-error.png');

    await page.getByLabel('Name').fill(name);
    const created = page.waitForResponse((r) => r.url().endsWith('/apps') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Create and deploy' }).click();
    expect((await created).status()).to.equal(202);
    await page.locator('#activity-title', { hasText: `Deploy of ${name}` }).waitFor();
    expect(await page.getByLabel('Name').getAttribute('aria-invalid')).to.equal(null);
    await shot('05-deploying.png');

    await page.locator('#activity[data-state="completed"]').waitFor({ timeout: 180_000 });
    expect(await page.locator('#job-progress').evaluate((el) => (el as HTMLProgressElement).value)).to.equal(100);
    expect(await page.locator('#job-percent').innerText()).to.equal('100%');
    expect(await page.locator('#job-step').innerText()).to.equal('deployed');
    const jobLog = await page.locator('#job-log li').allInnerTexts();
    expect(jobLog.some((line) => line.includes('<b id=injected>build-says-hi</b>'))).to.equal(true, jobLog.join('\n'));
    expect(await page.locator('#injected').count()).to.equal(0);

    const app = (await gasper.api().get(`/apps/${name}`).expect(200)).body.app;
    await row().locator('.badge', { hasText: 'running' }).waitFor();
    const link = row().getByRole('link');
    expect(await link.innerText()).to.equal(app.url);
    expect(await link.getAttribute('href')).to.equal(`${app.url}/`);
    expect(app.url).to.equal(`http://${name}.localhost:${gasper.proxyPort}`);
    await shot('06-deployed.png');
  });

  it('shows a line the app prints, live, after a request through the proxy', async () => {
    await page.locator('#logs-status', { hasText: `Following the logs of ${name}` }).waitFor();
    const marker = `/from-test-${crypto.randomBytes(4).toString('hex')}`;
    const res = await viaProxy(gasper.proxyPort, `${name}.localhost:${gasper.proxyPort}`, marker);
    expect(res.status).to.equal(200);
    await page.locator('#log-lines li', { hasText: `request ${marker}` }).waitFor({ timeout: 20_000 });
    await shot('07-live-logs.png');

    // The same page in a phone-sized window: every control still there, no sideways scrolling.
    await page.setViewportSize({ width: 380, height: 800 });
    await row()
      .getByRole('button', { name: `Delete ${name}` })
      .waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).to.be.at.most(380);
    await shot('08-narrow-window.png');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('restart issues POST /apps/<name>/restart with the token', async () => {
    // Whether this branch has the route yet or not, the button's request is what is checked:
    // the request goes on to the API unchanged.
    const seen: { method: string; authorization?: string }[] = [];
    await page.route(`**/apps/${name}/restart`, async (route) => {
      seen.push({
        method: route.request().method(),
        authorization: (await route.request().headerValue('authorization')) ?? undefined,
      });
      await route.continue();
    });
    const answered = page.waitForResponse((r) => r.url() === `${gasper.apiUrl}/apps/${name}/restart`);
    await row()
      .getByRole('button', { name: `Restart ${name}` })
      .click();
    const response = await answered;
    expect(seen).to.deep.equal([{ method: 'POST', authorization: `Bearer ${gasper.token}` }]);
    // Either the restart's job is followed, or the API's refusal is shown.
    if (response.status() === 202) await page.locator('#activity-title', { hasText: `Restart of ${name}` }).waitFor();
    else await page.locator('#action-message', { hasText: `Could not restart ${name}` }).waitFor();
    await page.unroute(`**/apps/${name}/restart`);
    await shot('09-restart.png');
    if (response.status() === 202)
      await page.locator('#activity[data-state="completed"]').waitFor({ timeout: 120_000 });
  });

  it('deletes the app after a confirmation, follows the job and drops the row', async () => {
    // Dismissing the dialog deletes nothing.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await row()
      .getByRole('button', { name: `Delete ${name}` })
      .click();
    await page.locator('#action-message', { hasText: `${name} was not deleted` }).waitFor();
    await gasper.api().get(`/apps/${name}`).expect(200);

    let question = '';
    page.once('dialog', (dialog) => {
      question = dialog.message();
      void dialog.accept();
    });
    await row()
      .getByRole('button', { name: `Delete ${name}` })
      .click();
    await page.locator('#activity-title', { hasText: `Deletion of ${name}` }).waitFor();
    expect(question).to.include(name);
    await page.locator('#action-message', { hasText: `${name} was deleted` }).waitFor({ timeout: 120_000 });
    await row().waitFor({ state: 'detached' });
    await gasper.api().get(`/apps/${name}`).expect(404);
    // The live log view was told the app is gone.
    await page.locator('#logs-status', { hasText: 'app deleted' }).waitFor();
    await shot('10-deleted.png');
  });

  it('a first deploy from a branch that is not there fails, and the page says where to choose another', async () => {
    const failing = `${name}-b`;
    const form = page.locator('#create-form');
    await form.getByLabel('Name').fill(failing);
    await form.getByLabel('Repository URL').fill(repo.url);
    await form.getByLabel('Branch').fill('no-such-branch');
    await form.getByLabel('Runtime').selectOption('node');
    await page.getByRole('button', { name: 'Create and deploy' }).click();
    const message = page.locator('#action-message.problem', { hasText: `The deploy of ${failing} failed` });
    await message.waitFor({ timeout: 120_000 });
    expect(await message.innerText())
      .to.include('branch no-such-branch not found')
      .and.match(/Choose another branch in Manage → Source\.$/);
    await gasper.api().delete(`/apps/${failing}`).expect(202);
  });

  it('signs out: the token is forgotten and the sign-in form is back', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('gasper.token'))).to.equal(null);
    expect(await page.locator('#workspace').isHidden()).to.equal(true);
    await browser.openDashboard(`${gasper.apiUrl}/dashboard/`);
    expect(await page.locator('#sign-in').isVisible()).to.equal(true);
    await shot('11-signed-out.png');
    expect(browser.problems, browser.problems.join('\n')).to.deep.equal([]);
  });
});
