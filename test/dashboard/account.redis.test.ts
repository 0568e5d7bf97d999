import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import supertest from 'supertest';
import { type ApiFixture, startApiFixture, suffix } from '../api/api-fixture.ts';
import { launchTestBrowser, type TestBrowser } from '../support/browser.ts';

const artifacts = path.resolve('test-artifacts/dashboard');

/**
 * The dashboard's Account panel in a real headless Chromium, against the API served in-process on
 * real Redis: an admin makes and revokes an API token and onboards a user; that user, signed in,
 * sees their own tokens and no Users section. Every token the page shows is tried against the API.
 */
describe('web dashboard: the Account panel (tokens, users), in headless Chromium (real Redis)', function () {
  this.timeout(120_000);
  let fx: ApiFixture;
  let server: http.Server;
  let base: string;
  let browser: TestBrowser;
  let page: Page;
  /** The status `GET /apps` answers with `token`, and `POST /apps` (a change) with it. */
  const tryToken = async (token: string) => ({
    read: (await supertest(fx.app).get('/apps').set('authorization', `Bearer ${token}`)).status,
    change: (await supertest(fx.app).post('/apps').set('authorization', `Bearer ${token}`).send({})).status,
  });
  const secretIn = async (selector: string) => (await page.locator(`${selector} code.secret`).textContent()) ?? '';

  async function signIn(token: string) {
    await browser.openDashboard(`${base}/dashboard/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#whoami').waitFor();
    await page.getByRole('button', { name: 'Account' }).click();
    await page.locator('#account-me').filter({ hasText: 'quotas' }).waitFor();
  }

  before(async () => {
    fx = await startApiFixture();
    server = http.createServer(fx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchTestBrowser({ artifacts });
    ({ page } = browser);
    page.setDefaultTimeout(20_000);
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  const alice = `alice-${suffix()}`;
  let aliceToken = '';

  it('an admin makes a read-only token (shown once, it reads and cannot change), then revokes it', async () => {
    await signIn(fx.token);
    expect(await page.locator('#account-me').textContent()).to.equal('admin (admin); quotas: none.');
    // The admin signed in with the installation's token, which is no token record.
    expect(await page.locator('#tokens-empty').isVisible()).to.equal(true);
    await page.getByLabel('What the token is for').fill('ci');
    await page.getByLabel('deploy', { exact: true }).uncheck();
    await page.getByRole('button', { name: 'Make a token' }).click();
    await page.locator('#token-created').filter({ hasText: 'shown this once' }).waitFor();
    const secret = await secretIn('#token-created');
    expect(secret).to.match(/^gsp_/);
    expect(await tryToken(secret)).to.deep.equal({ read: 200, change: 403 });
    const row = page.locator('#tokens-body tr', { hasText: 'ci' });
    expect(await row.locator('td').nth(2).textContent()).to.equal('read');
    // The list never holds a value: leaving the panel forgets the one shown.
    await page.getByRole('button', { name: 'Close' }).first().click();
    await page.getByRole('button', { name: 'Account' }).click();
    await row.waitFor();
    expect(await page.content()).to.not.include(secret);
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('#account-message', { hasText: 'revoked' }).waitFor();
    expect((await tryToken(secret)).read).to.equal(401);
    // A name the API refuses is shown under the input.
    await page.getByRole('button', { name: 'Make a token' }).click();
    await page.locator('#t-name-error', { hasText: 'give the token a name: what it is for' }).waitFor();
  });

  it('an admin creates a user with quotas: the first token and the login shown once; a bad quota at its input', async () => {
    await page.getByLabel('New user').fill(alice);
    await page.getByLabel('Max apps').fill('-1');
    await page.getByRole('button', { name: 'Create the user' }).click();
    await page.locator('#u-max-apps-error').filter({ hasText: /\S/ }).waitFor();
    await fx.get(`/users/${alice}`).expect(404);
    await page.getByLabel('Max apps').fill('2');
    await page.getByLabel('Max memory (MiB)').fill('1024');
    await page.getByRole('button', { name: 'Create the user' }).click();
    await page.locator('#user-created').filter({ hasText: 'shown this once' }).waitFor();
    aliceToken = await secretIn('#user-created');
    expect(await page.locator('#user-created').textContent()).to.include(`gasper login ${base} --token ${aliceToken}`);
    expect(await tryToken(aliceToken)).to.deep.include({ read: 200 });
    const row = page.locator(`#users-body tr[data-user="${alice}"]`);
    expect(await row.locator('td').nth(2).textContent()).to.equal('apps ≤ 2, memory ≤ 1024 MiB');
    expect((await fx.get(`/users/${alice}`).expect(200)).body.user.quotas).to.deep.equal({
      maxApps: 2,
      maxMemoryMb: 1024,
    });
    await page.screenshot({ path: path.join(artifacts, 'account-01-admin.png'), fullPage: true });
  });

  it('the new user signs in: their account and tokens, no Users section and no admin scope', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(aliceToken);
    expect(await page.locator('#account-me').textContent()).to.equal(
      `${alice} (member); quotas: apps ≤ 2, memory ≤ 1024 MiB.`,
    );
    await page.locator('#tokens-body tr', { hasText: 'initial' }).waitFor();
    expect(await page.locator('#users-section').isHidden()).to.equal(true);
    expect(await page.locator('#t-admin').isHidden()).to.equal(true);
    expect(await page.getByRole('button', { name: 'Nodes' }).isHidden()).to.equal(true);
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  it('an admin deletes the user after a confirmation: their token stops working', async () => {
    await signIn(fx.token);
    const row = page.locator(`#users-body tr[data-user="${alice}"]`);
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.locator('#account-message', { hasText: `${alice} deleted` }).waitFor();
    expect((await tryToken(aliceToken)).read).to.equal(401);
    expect(await page.locator('#users-body tr[data-user="admin"] button').count()).to.equal(0);
  });

  it('an admin signed in with a token without the admin scope sees their tokens, and why the users are not shown', async () => {
    const admin2 = `root-${suffix()}`;
    const made = await fx.post('/users').send({ name: admin2, role: 'admin' }).expect(201);
    const deployOnly = await supertest(fx.app)
      .post('/users/me/tokens')
      .set('authorization', `Bearer ${made.body.token}`)
      .send({ name: 'laptop', scopes: ['read', 'deploy'] })
      .expect(201);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(deployOnly.body.secret);
    await page.locator('#tokens-body tr', { hasText: 'laptop' }).waitFor();
    await page
      .locator('#account-message', { hasText: 'The users are not shown: this token lacks the "admin" scope.' })
      .waitFor();
    expect(await page.locator('#users-section').isHidden()).to.equal(true);
  });

  it('an admin sees the nodes (reserved, disk, what runs there), drains one after a confirmation and undrains it', async () => {
    const node = `n-${suffix()}`;
    await fx.registerNode(node);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(fx.token);
    await page.getByRole('button', { name: 'Nodes' }).click();
    const row = page.locator(`#nodes-body tr[data-node="${node}"]`);
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    expect(cells.slice(1, 4)).to.deep.equal(['up', '0 of 16', '0 B of 64.0 GiB']);
    expect(cells[4]).to.include('Gasper: not measured yet');
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Drain' }).click();
    await page.locator('#nodes-message', { hasText: `${node} draining.` }).waitFor();
    expect(await row.locator('td').nth(1).textContent()).to.equal('up, draining');
    expect((await fx.get(`/nodes/${node}`).expect(200)).body.node.draining).to.equal(true);
    await row.getByRole('button', { name: 'Undrain' }).click();
    await page.locator('#nodes-message', { hasText: `${node}: new apps may be placed there again.` }).waitFor();
    expect((await fx.get(`/nodes/${node}`).expect(200)).body.node.draining).to.equal(false);
    await page.screenshot({ path: path.join(artifacts, 'nodes-01.png'), fullPage: true });
  });
});
