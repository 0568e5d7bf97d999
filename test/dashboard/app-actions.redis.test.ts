import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { DatabaseStore } from '../../src/store/databases.ts';
import { ReleaseStore, type ReleaseRecord } from '../../src/store/release-records.ts';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from '../api/api-fixture.ts';
import { launchTestBrowser, type TestBrowser } from '../support/browser.ts';
import { deliver, pushPayload } from '../support/github-webhooks.ts';

const artifacts = path.resolve('test-artifacts/dashboard');

/**
 * The dashboard's Manage panel (env, scale, source, releases, databases) in a real headless Chromium,
 * against the API served in-process on real Redis and BullMQ. No worker runs: every change stays
 * a queued job, so the tests check what the API stored and queued, and what the page says.
 */
describe("web dashboard: an app's env, scale, source, releases and databases, in headless Chromium (real Redis)", function () {
  this.timeout(120_000);
  let fx: ApiFixture;
  let nodeId: string;
  let server: http.Server;
  let base: string;
  let browser: TestBrowser;
  let page: Page;
  const app = appName('manage');
  const db = `db-${suffix()}`;

  /** The queued job `id` on the app's node, or undefined. */
  const queued = (id: string) => fx.queues.forNode(nodeId).getJob(id);
  /** The job id the message `selector` names (`… (job <id>)`). */
  async function jobIn(selector: string): Promise<string> {
    const text = (await page.locator(selector).textContent()) ?? '';
    const id = /\(job ([^)]+)\)/.exec(text)?.[1];
    expect(id, `a job id in ${JSON.stringify(text)}`).to.be.a('string');
    return id!;
  }
  function record(id: string, patch: Partial<ReleaseRecord>): ReleaseRecord {
    return {
      id,
      app,
      status: 'superseded',
      commit: `c0ffee${id}`,
      sealedEnv: {},
      buildLog: [],
      onDisk: true,
      config: {
        runtime: 'node',
        image: 'gasper/node:latest',
        repo: { url: 'file:///x' },
        build: [],
        run: 'npm start',
        port: 8080,
        env: {},
        instances: 1,
        resources: { cpu: 1, memory: 512 },
        healthCheck: {},
      },
      timings: { createdAt: '2026-01-01T00:00:00Z', activatedAt: ['2026-01-01T00:00:01Z'] },
      ...patch,
    };
  }

  before(async () => {
    fx = await startApiFixture();
    nodeId = `n-${suffix()}`;
    await fx.registerNode(nodeId);
    await fx.post('/apps').send(validBody(app)).expect(202);
    // As if a worker had deployed r000001, r000002, then r000003 (its Procfile declares a
    // worker, none asked for yet); r000004's build failed. A rollback without a release would
    // pick r000002: the test picks r000001.
    await fx.apps.update(app, (d) => ({
      ...d,
      status: 'running',
      release: 'r000003',
      pendingRelease: undefined,
      formation: { web: 1, worker: 0 },
    }));
    const records = new ReleaseStore(fx.redis);
    await records.put(record('r000001', {}));
    await records.put(
      record('r000002', { timings: { createdAt: '2026-01-02T00:00:00Z', activatedAt: ['2026-01-02T00:00:01Z'] } }),
    );
    await records.put(
      record('r000003', {
        status: 'active',
        timings: { createdAt: '2026-01-03T00:00:00Z', activatedAt: ['2026-01-03T00:00:01Z'] },
      }),
    );
    await records.put(
      record('r000004', { status: 'failed', timings: { createdAt: '2026-01-04T00:00:00Z', activatedAt: [] } }),
    );
    for (let i = 0; i < 3; i++) await fx.apps.nextReleaseSeq(app);
    const created = await fx.post('/databases').send({ name: db, engine: 'postgres' });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);

    server = http.createServer(fx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchTestBrowser({ artifacts });
    ({ page } = browser);
    page.setDefaultTimeout(20_000);
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

  it('opens the Manage panel on the Env tab, with no variables yet; the create form keeps its labels to itself', async () => {
    await page.getByRole('button', { name: `Manage ${app}` }).click();
    await page.locator('#manage-title', { hasText: `Manage ${app}` }).waitFor();
    expect(await page.getByRole('tab', { name: 'Env' }).getAttribute('aria-selected')).to.equal('true');
    // Other tests find the create form's fields by these labels (substrings, hidden elements too).
    for (const label of ['Name', 'Environment']) expect(await page.getByLabel(label).count(), label).to.equal(1);
    // The Source and Build tabs have their own repository URL, branch, runtime and commands: the
    // create form's are found within it.
    for (const label of ['Repository URL', 'Branch', 'Folder', 'Runtime', 'Run command', 'Build commands'])
      expect(await page.locator('#create-form').getByLabel(label).count(), label).to.equal(1);
    await page.locator('#env-empty').waitFor();
  });

  it('sets a variable: stored sealed, a redeploy queued and followed, the name listed and the value never shown', async () => {
    await page.getByLabel('Variable', { exact: true }).fill('GREETING');
    await page.getByLabel('Value', { exact: true }).fill('hello-secret-42');
    await page.getByRole('button', { name: 'Set', exact: true }).click();
    await page.locator('#env-message', { hasText: 'GREETING set; redeploy queued' }).waitFor();
    const job = await jobIn('#env-message');
    expect(job).to.match(new RegExp(`^deploy-${app}-[0-9a-f]+-r000005$`));
    const stored = await fx.apps.get(app);
    expect(fx.secrets.open(stored!.sealedEnv.GREETING!)).to.equal('hello-secret-42');
    expect(stored!.pendingRelease).to.equal('r000005');
    expect((await queued(job))?.data).to.include({ app, release: 'r000005' });
    await page.locator('#env-list li[data-env="GREETING"]').waitFor();
    await page.locator(`#activity[data-job="${job}"]`).waitFor();
    expect(await page.locator('#activity-title').textContent()).to.equal(`Redeploy of ${app}`);
    expect(await page.locator('body').innerText()).to.not.include('hello-secret-42');
    expect(await page.getByLabel('Value', { exact: true }).inputValue()).to.equal('');
    await page.screenshot({ path: path.join(artifacts, 'manage-01-env.png'), fullPage: true });
  });

  it("shows the API's field error next to the field it is about (a bad or reserved name, a value too long), storing nothing", async () => {
    const before = await fx.apps.get(app);
    for (const [name, problem] of [
      ['1BAD', 'variable names are letters, digits and _'],
      ['PORT', 'PORT is set by Gasper'],
    ] as const) {
      await page.getByLabel('Variable', { exact: true }).fill(name);
      await page.getByLabel('Value', { exact: true }).fill('x');
      await page.getByRole('button', { name: 'Set', exact: true }).click();
      await page.locator('#env-key-error', { hasText: problem }).waitFor();
      expect(await page.getByLabel('Variable', { exact: true }).getAttribute('aria-invalid')).to.equal('true');
    }
    // A value over 32 KiB: the API's message goes under the value, not the name.
    await page.getByLabel('Variable', { exact: true }).fill('LONG_ONE');
    await page.getByLabel('Value', { exact: true }).fill('x'.repeat(32 * 1024 + 1));
    await page.getByRole('button', { name: 'Set', exact: true }).click();
    await page.locator('#env-value-error', { hasText: '32768' }).waitFor();
    expect(await page.locator('#env-key-error').textContent()).to.equal('');
    expect(await page.getByLabel('Value', { exact: true }).getAttribute('aria-invalid')).to.equal('true');
    // The success of the earlier Set is not left beside the errors of this one.
    expect(await page.locator('#env-message').textContent()).to.equal('');
    expect(Object.keys((await fx.apps.get(app))!.sealedEnv)).to.deep.equal(Object.keys(before!.sealedEnv));
    await page.screenshot({ path: path.join(artifacts, 'manage-02-env-error.png'), fullPage: true });
  });

  it('unsets a variable after a confirmation: gone from the app and the list', async () => {
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.getByRole('button', { name: 'Unset GREETING' }).click();
    expect((await fx.apps.get(app))!.sealedEnv).to.have.property('GREETING');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Unset GREETING' }).click();
    await page.locator('#env-message', { hasText: 'GREETING unset; redeploy queued' }).waitFor();
    await page.locator('#env-list li[data-env="GREETING"]').waitFor({ state: 'detached' });
    expect((await fx.apps.get(app))!.sealedEnv).to.not.have.property('GREETING');
    expect(await page.locator('#env-key-error').textContent()).to.equal('');
  });

  it('scales web to 2 and worker to 1: the desired formation stored, a redeploy queued; a count over the limit shown at its input', async () => {
    await page.getByRole('tab', { name: 'Scale' }).click();
    const web = page.getByLabel('web', { exact: true });
    const worker = page.getByLabel('worker', { exact: true });
    await page.waitForFunction(() => (document.querySelector('#scale-web') as HTMLInputElement | null)?.value === '1');
    expect(await worker.inputValue()).to.equal('0');
    expect(
      await page.locator('#scale-rows [data-process]').evaluateAll((rows) => rows.map((r) => r.dataset.process)),
    ).to.deep.equal(['web', 'worker']);
    await web.fill('11');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#scale-web-error', { hasText: 'at most 10' }).waitFor();
    expect(await web.getAttribute('aria-invalid')).to.equal('true');
    expect(await page.locator('#scale-worker-error').textContent()).to.equal('');
    expect((await fx.get(`/apps/${app}`).expect(200)).body.app.formation.desired).to.deep.equal({ web: 1 });
    await web.fill('2');
    await worker.fill('1');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#scale-message', { hasText: `${app}: web=2 worker=1; redeploy queued` }).waitFor();
    expect((await fx.get(`/apps/${app}`).expect(200)).body.app.formation.desired).to.deep.equal({ web: 2, worker: 1 });
    expect(await queued(await jobIn('#scale-message'))).to.not.equal(undefined);
    expect(await page.locator('#scale-web-error').textContent()).to.equal('');
    await page.screenshot({ path: path.join(artifacts, 'manage-03-scale.png'), fullPage: true });
  });

  it("changes the app's source: a bad folder shown at its input, then another branch and folder with a redeploy queued", async () => {
    await page.getByRole('tab', { name: 'Source' }).click();
    const source = page.locator('#panel-repo');
    const url = source.getByLabel('Repository URL');
    await page.waitForFunction(
      () => (document.querySelector('#repo-url') as HTMLInputElement | null)?.value === 'file:///srv/git/demo.git',
    );
    expect(await source.getByLabel('Branch').inputValue()).to.equal('');
    expect(await page.locator('#repo-token').textContent()).to.include('No token');
    await page.getByRole('button', { name: 'Save and redeploy' }).click();
    await page.locator('#repo-message', { hasText: 'Nothing changed.' }).waitFor();
    await source.getByLabel('Folder').fill('../outside');
    await page.getByRole('button', { name: 'Save and redeploy' }).click();
    await page.locator('#repo-path-error', { hasText: 'inside the repository' }).waitFor();
    expect(await source.getByLabel('Folder').getAttribute('aria-invalid')).to.equal('true');
    expect((await fx.apps.get(app))!.repo.path).to.equal(undefined);
    await source.getByLabel('Branch').fill('release');
    await source.getByLabel('Folder').fill('web');
    await page.getByRole('button', { name: 'Save and redeploy' }).click();
    await page.locator('#repo-message', { hasText: `${app}: redeploy queued` }).waitFor();
    expect((await fx.apps.get(app))!.repo).to.deep.include({
      url: await url.inputValue(),
      branch: 'release',
      path: 'web',
    });
    expect(await queued(await jobIn('#repo-message'))).to.not.equal(undefined);
    expect(await page.locator('#repo-path-error').textContent()).to.equal('');
    await page.screenshot({ path: path.join(artifacts, 'manage-04-source.png'), fullPage: true });
  });

  it("sets the app's access token and its user (write-only, refused on a non-https URL at its input), removes it, and deploys the latest commit without the cache", async () => {
    const source = page.locator('#panel-repo');
    const tokenInput = source.getByLabel('Access token');
    const secret = `ghp_${suffix()}${suffix()}`;
    const sealedCredentials = async () => {
      const sealed = (await fx.apps.get(app))!.repo.sealedCredentials;
      return sealed ? (JSON.parse(fx.secrets.open(sealed)) as { token: string; username: string }) : undefined;
    };
    const sealedToken = async () => (await sealedCredentials())?.token;
    expect(await tokenInput.getAttribute('type')).to.equal('password');
    expect(await source.getByLabel(/Remove the kept token/).isDisabled()).to.equal(true);
    // The app's repository is a file:// one: a token is for https only, said under the token.
    await tokenInput.fill(secret);
    await page.getByRole('button', { name: 'Save and redeploy' }).click();
    await page.locator('#repo-token-error', { hasText: 'https://' }).waitFor();
    expect(await tokenInput.getAttribute('aria-invalid')).to.equal('true');
    expect(await sealedToken()).to.equal(undefined);
    // With an https URL it is kept, sealed; the page never shows it again.
    await source.getByLabel('Repository URL').fill('https://git.example.org/me/demo.git');
    await tokenInput.fill(secret);
    await page.getByRole('button', { name: 'Save and redeploy' }).click();
    await page.locator('#repo-message', { hasText: 'The new token is kept' }).waitFor();
    expect(await sealedToken()).to.equal(secret);
    expect(await tokenInput.inputValue()).to.equal('');
    expect(await page.locator('#repo-token').textContent()).to.include('A token is kept');
    expect(await page.content()).not.to.include(secret);
    expect(await sealedCredentials()).to.deep.equal({ username: 'x-access-token', token: secret });
    // A user alone (Bitbucket's) is refused at its input: it goes with a new token.
    const userInput = source.getByLabel('Git user for the token');
    await userInput.fill('alice');
    await page.getByRole('button', { name: 'Save and redeploy' }).click();
    await page.locator('#repo-username-error', { hasText: 'enter the token too' }).waitFor();
    // A new token for a running app is for its next clone: no redeploy, and the page says how to clone now.
    await tokenInput.fill(`${secret}2`);
    await page.getByRole('button', { name: 'Save and redeploy' }).click();
    await page.locator('#repo-message', { hasText: 'applied, no redeploy needed' }).waitFor();
    expect(await page.locator('#repo-message').textContent()).to.include(
      '"Deploy the latest commit" clones with it now',
    );
    expect(await sealedCredentials()).to.deep.equal({ username: 'alice', token: `${secret}2` });
    expect(await userInput.inputValue(), 'emptied, as the token').to.equal('');
    expect(await page.content()).not.to.include('alice');
    // Both a new token and its removal: refused before anything is sent.
    await tokenInput.fill('another');
    await source.getByLabel(/Remove the kept token/).check();
    await page.getByRole('button', { name: 'Save and redeploy' }).click();
    await page.locator('#repo-token-error', { hasText: 'not both' }).waitFor();
    expect(await sealedToken()).to.equal(`${secret}2`);
    await tokenInput.fill('');
    await page.getByRole('button', { name: 'Save and redeploy' }).click();
    await page.locator('#repo-message', { hasText: 'The token was removed' }).waitFor();
    expect(await sealedToken()).to.equal(undefined);
    expect(await page.locator('#repo-token').textContent()).to.include('No token');

    await source.getByLabel('Without the build cache').check();
    await page.getByRole('button', { name: 'Deploy the latest commit' }).click();
    await page.locator('#repo-message', { hasText: 'without the build cache' }).waitFor();
    const job = await queued(await jobIn('#repo-message'));
    expect(job?.data).to.deep.include({ app, cache: false });
    expect(await source.getByLabel('Without the build cache').isChecked()).to.equal(false);
    await page.screenshot({ path: path.join(artifacts, 'manage-05-source-token.png'), fullPage: true });
  });

  it('sets up push deploys: the fields for GitHub and a secret that verifies, shown once; rotates after a confirmation; removes', async () => {
    const source = page.locator('#panel-repo');
    const state = page.locator('#webhook-state');
    await state.filter({ hasText: 'Pushes do not deploy the app yet' }).waitFor();
    expect(await page.locator('#webhook-remove').isHidden()).to.equal(true);
    await source.getByRole('button', { name: 'Set up push deploys' }).click();
    await page.locator('#repo-message', { hasText: `${app}: push webhook ready.` }).waitFor();
    await page.locator('#webhook-setup').waitFor();
    expect(await page.locator('#webhook-url').textContent()).to.equal(`${base}/webhooks/github/${app}`);
    expect(await page.locator('#webhook-content-type').textContent()).to.equal('application/json');
    // Served on loopback with no GASPER_API_URL: GitHub could not reach it, and the page says so.
    expect(await page.locator('#webhook-warning').textContent()).to.match(/^GitHub cannot reach 127\.0\.0\.1/);
    const secret = (await page.locator('#webhook-secret').textContent()) ?? '';
    expect(secret).to.match(/^[A-Za-z0-9_-]{43}$/);
    // The secret shown is the one the API verifies: a push signed with it deploys the app.
    const { url, branch } = (await fx.apps.get(app))!.repo;
    const pushed = await deliver(fx.app, `/webhooks/github/${app}`, {
      event: 'push',
      secret,
      payload: pushPayload({
        ref: `refs/heads/${branch}`,
        after: 'b'.repeat(40),
        repoUrl: url,
        pushedAt: 1_900_000_000,
      }),
    });
    expect(pushed.status, JSON.stringify(pushed.body)).to.equal(202);
    await page.screenshot({ path: path.join(artifacts, 'manage-06-webhook.png'), fullPage: true });
    // Opened again, the tab says when the newest push deployed reached GitHub, and never shows the secret.
    await page.getByRole('tab', { name: 'Env' }).click();
    await page.getByRole('tab', { name: 'Source' }).click();
    await state.filter({ hasText: 'the newest push deployed reached GitHub 2030-03-17 17:46 UTC' }).waitFor();
    expect(await page.locator('#webhook-setup').isHidden()).to.equal(true);
    expect(await page.content()).to.not.include(secret);
    // Rotating is asked first: dismissed, the secret still verifies; accepted, a new one is shown.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await source.getByRole('button', { name: 'Rotate the secret' }).click();
    expect(await page.locator('#webhook-setup').isHidden()).to.equal(true);
    page.once('dialog', (dialog) => void dialog.accept());
    await source.getByRole('button', { name: 'Rotate the secret' }).click();
    await page.locator('#repo-message', { hasText: 'the webhook secret was rotated' }).waitFor();
    expect(await page.locator('#webhook-secret').textContent()).to.not.equal(secret);
    page.once('dialog', (dialog) => void dialog.accept());
    await source.getByRole('button', { name: 'Remove' }).click();
    await page.locator('#repo-message', { hasText: 'push webhook removed' }).waitFor();
    expect((await fx.get(`/apps/${app}`).expect(200)).body.app.webhook).to.equal(null);
    expect(await state.textContent()).to.include('Pushes do not deploy the app yet');
    expect(await page.locator('#webhook-setup').isHidden()).to.equal(true);
  });

  it('changes how the app is built and run: a runtime and build commands redeploy, a bad health path is shown at its input', async () => {
    await page.getByRole('tab', { name: 'Build' }).click();
    const panel = page.locator('#panel-build');
    await page.waitForFunction(
      () => (document.querySelector('#b-runtime') as HTMLSelectElement | null)?.value === 'node',
    );
    expect(await panel.getByLabel('Builder').inputValue()).to.equal('auto');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#build-message', { hasText: 'Nothing changed.' }).waitFor();
    await panel.getByLabel('Health check path').fill('health');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#b-health-error', { hasText: 'must start with /' }).waitFor();
    expect((await fx.apps.get(app))!.healthCheck?.path).to.equal(undefined);
    await panel.getByLabel('Health check path').fill('/health');
    await panel.getByLabel('Runtime').selectOption('python');
    await panel
      .getByLabel('Build commands')
      .fill('pip install -r requirements.txt\n\n  python manage.py collectstatic  \n');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#build-message', { hasText: `${app}: redeploy queued` }).waitFor();
    expect(await fx.apps.get(app)).to.deep.include({
      runtime: 'python',
      build: ['pip install -r requirements.txt', 'python manage.py collectstatic'],
      healthCheck: { path: '/health' },
    });
    expect(await queued(await jobIn('#build-message'))).to.not.equal(undefined);
    // Emptied, the build goes back to the runtime's default.
    await panel.getByLabel('Build commands').fill('');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#build-message', { hasText: 'redeploy queued' }).waitFor();
    expect((await fx.apps.get(app))!.build).to.equal(undefined);
    await page.screenshot({ path: path.join(artifacts, 'manage-07-build.png'), fullPage: true });
  });

  it('lists the releases, the serving one marked, and rolls back to the chosen one after a confirmation', async () => {
    await page.getByRole('tab', { name: 'Releases' }).click();
    const row = (id: string) => page.locator(`#releases-body tr[data-release="${id}"]`);
    await row('r000001').waitFor();
    expect(
      await page.locator('#releases-body tr').evaluateAll((rows) => rows.map((r) => r.dataset.release)),
    ).to.deep.equal(['r000004', 'r000003', 'r000002', 'r000001']);
    expect(await row('r000003').locator('.badge.serving').count()).to.equal(1);
    expect(await page.locator('#releases-body .badge.serving').count()).to.equal(1);
    expect(await row('r000003').getByRole('button').count()).to.equal(0);
    expect(await row('r000004').getByRole('button').count()).to.equal(0);
    expect(await row('r000004').textContent()).to.include('never ran successfully');
    // Who asked for each and why, as the API recorded the requests (the others were seeded).
    expect(await row('r000001').locator('.why').textContent()).to.equal('admin: first deploy');
    expect(
      await row('r000002')
        .getByRole('button', { name: `Roll back ${app} to r000002` })
        .count(),
    ).to.equal(1);
    const button = page.getByRole('button', { name: `Roll back ${app} to r000001` });
    page.once('dialog', (dialog) => void dialog.dismiss());
    await button.click();
    expect((await fx.apps.get(app))!.lastJob ?? '').to.not.match(/^rollback-/);
    page.once('dialog', (dialog) => void dialog.accept());
    await button.click();
    await page.locator('#releases-message', { hasText: `Rollback of ${app} to r000001 queued` }).waitFor();
    const job = await jobIn('#releases-message');
    expect(job).to.match(new RegExp(`^rollback-${app}-`));
    expect((await queued(job))?.data).to.include({ op: 'rollback', release: 'r000001' });
    await page.locator(`#activity[data-job="${job}"]`).waitFor();
    await page.screenshot({ path: path.join(artifacts, 'manage-04-releases.png'), fullPage: true });
  });

  it('links a database to the app: stored on the app, a redeploy queued, shown linked', async () => {
    await page.getByRole('tab', { name: 'Databases' }).click();
    const row = page.locator(`#databases-body tr[data-database="${db}"]`);
    await row.waitFor();
    expect(await row.locator('.linked').textContent()).to.equal('no');
    await page.getByRole('button', { name: `Link ${db} to ${app}` }).click();
    await page.locator('#databases-message', { hasText: `${db} linked to ${app}; redeploy queued` }).waitFor();
    expect((await fx.apps.get(app))!.databases).to.deep.equal([db]);
    expect((await queued(await jobIn('#databases-message')))?.data).to.include({ app });
    await row.locator('.linked', { hasText: `linked to ${app}` }).waitFor();
  });

  it('backs up a database: refused while it is not running, then queued; its backups listed and downloaded', async () => {
    await page.getByRole('button', { name: `Back up ${db}` }).click();
    await page.locator('#databases-message.problem', { hasText: 'not running' }).waitFor();
    const store = new DatabaseStore(fx.redis);
    await store.update(db, (d) => ({ ...d, status: 'running' }));
    await page.getByRole('button', { name: `Back up ${db}` }).click();
    await page.locator('#databases-message', { hasText: `of ${db} started` }).waitFor();
    const text = (await page.locator('#databases-message').textContent()) ?? '';
    const backupId = /Backup (\S+) of/.exec(text)?.[1];
    const job = await queued(await jobIn('#databases-message'));
    expect(job?.data).to.include({ database: db, backup: backupId });
    // What the backup job stores when it is done.
    await store.putBackup(
      db,
      { id: backupId!, size: 3 * 1024 * 1024, createdAt: '2026-03-01T12:00:00.000Z', filename: `${db}.dump.gz` },
      Buffer.from('dump'),
      5,
    );
    await page.getByRole('button', { name: `Show backups of ${db}` }).click();
    const backup = page.locator(`#backups-body tr[data-backup="${backupId}"]`);
    await backup.waitFor();
    expect(await backup.textContent())
      .to.include('3.0 MiB')
      .and.include('2026-03-01 12:00 UTC');
    expect(await page.locator('#backups-title').textContent()).to.equal(`Backups of ${db}`);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: `Download ${backupId}` }).click(),
    ]);
    expect(download.suggestedFilename()).to.equal(`${db}.dump.gz`);
    expect(await fs.readFile((await download.path())!, 'utf8')).to.equal('dump');
    await page.screenshot({ path: path.join(artifacts, 'manage-05-databases.png'), fullPage: true });
  });

  it('unlinks the database after a confirmation, and closing the panel hides it', async () => {
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: `Unlink ${db} from ${app}` }).click();
    await page.locator('#databases-message', { hasText: `${db} unlinked from ${app}` }).waitFor();
    expect((await fx.apps.get(app))!.databases ?? []).to.deep.equal([]);
    await page.locator(`#databases-body tr[data-database="${db}"] .linked`, { hasText: 'no' }).waitFor();
    await page.locator('#manage-close').click();
    expect(await page.locator('#manage').isHidden()).to.equal(true);
  });

  it('says at the name field that a name is taken, and what to do instead; nothing is created', async () => {
    const form = page.locator('#create-form');
    await form.getByLabel('Name').fill(app);
    await form.getByLabel('Repository URL').fill('https://git.example.org/me/other.git');
    await form.getByLabel('Runtime').selectOption('node');
    const before = (await fx.apps.get(app))!.repo.url;
    await page.getByRole('button', { name: 'Create and deploy' }).click();
    await page
      .locator('#f-name-error', {
        hasText: `${app} is taken: choose another name (if it is your app, change it with its Manage button)`,
      })
      .waitFor();
    expect(await form.getByLabel('Name').getAttribute('aria-invalid')).to.equal('true');
    expect((await fx.apps.get(app))!.repo.url).to.equal(before);
  });

  it('fits a phone-sized window, and the arrow keys move between the tabs', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: `Manage ${app}` }).click();
    await page.locator('#env-empty').waitFor();
    await page.getByRole('tab', { name: 'Env' }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.getByRole('tab', { name: 'Scale' }).getAttribute('aria-selected')).to.equal('true');
    await page.locator('#scale-web').waitFor();
    expect(await page.locator('#panel-env').isHidden()).to.equal(true);
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    expect(await page.getByRole('tab', { name: 'Schedules' }).getAttribute('aria-selected')).to.equal('true');
    for (const tab of ['Volumes', 'Build', 'Source']) {
      await page.keyboard.press('ArrowLeft');
      expect(await page.getByRole('tab', { name: tab }).getAttribute('aria-selected'), tab).to.equal('true');
    }
    await page.keyboard.press('ArrowLeft');
    expect(await page.getByRole('tab', { name: 'Databases' }).getAttribute('aria-selected')).to.equal('true');
    await page.locator(`#databases-body tr[data-database="${db}"]`).waitFor();
    // One column: the panel right below the apps it was opened from, before the job.
    const top = async (selector: string) => (await page.locator(selector).boundingBox())!.y;
    expect(await top('#apps')).to.be.below(await top('#manage'));
    expect(await top('#manage')).to.be.below(await top('#activity'));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'pixels wider than the window').to.be.at.most(0);
    await page.screenshot({ path: path.join(artifacts, 'manage-06-phone.png'), fullPage: true });
    expect(browser.problems, browser.problems.join('\n')).to.deep.equal([]);
  });
});
