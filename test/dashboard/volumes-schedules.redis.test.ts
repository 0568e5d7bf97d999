import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Worker } from 'bullmq';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { bullPrefix } from '../../src/core/keys.ts';
import { queueName } from '../../src/core/naming.ts';
import { jobAdder } from '../../src/jobs/enqueue.ts';
import { runAppJob } from '../../src/jobs/schemas.ts';
import { ScheduleStore } from '../../src/store/schedules.ts';
import { VolumeBackupStore } from '../../src/store/volume-backups.ts';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from '../api/api-fixture.ts';
import { launchTestBrowser, type TestBrowser } from '../support/browser.ts';

const artifacts = path.resolve('test-artifacts/dashboard');

/**
 * The Manage panel's Volumes and Schedules tabs in a real headless Chromium, against the API
 * served in-process on real Redis and BullMQ. No worker runs: the tests check what the API stored
 * and queued, and what the page says; a backup, a skipped tick and a run's result are written as the
 * worker would write them.
 */
describe("web dashboard: an app's volumes and schedules, in headless Chromium (real Redis)", function () {
  this.timeout(120_000);
  let fx: ApiFixture;
  let nodeId: string;
  let server: http.Server;
  let browser: TestBrowser;
  let page: Page;
  const app = appName('vols');

  const queued = (id: string) => fx.queues.forNode(nodeId).getJob(id);
  async function jobIn(selector: string): Promise<string> {
    const text = (await page.locator(selector).textContent()) ?? '';
    const id = /\(job ([^)]+)\)/.exec(text)?.[1];
    expect(id, `a job id in ${JSON.stringify(text)}`).to.be.a('string');
    return id!;
  }
  /** Accepts the next confirmation, keeping its question. */
  function confirmNext(): Promise<string> {
    return new Promise((resolve) =>
      page.once('dialog', (dialog) => {
        resolve(dialog.message());
        void dialog.accept();
      }),
    );
  }

  before(async () => {
    fx = await startApiFixture();
    nodeId = `n-${suffix()}`;
    await fx.registerNode(nodeId);
    await fx.post('/apps').send(validBody(app)).expect(202);
    // As if a worker had deployed its first release.
    await fx.apps.update(app, (d) => ({ ...d, status: 'running', release: 'r000001', pendingRelease: undefined }));
    server = http.createServer(fx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchTestBrowser({ artifacts });
    ({ page } = browser);
    page.setDefaultTimeout(20_000);
    await browser.openDashboard(`${base}/dashboard/`);
    await page.getByLabel('API token').fill(fx.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: `Manage ${app}` }).click();
    await page.locator('#manage-title', { hasText: `Manage ${app}` }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  it('mounts a volume: a bad path shown at its input and nothing stored, then stored with a redeploy queued and listed', async () => {
    await page.getByRole('tab', { name: 'Volumes' }).click();
    await page.locator('#volumes-empty').waitFor();
    await page.getByLabel('Volume', { exact: true }).fill('data');
    await page.getByLabel('Mount path').fill('/app/data');
    await page.getByRole('button', { name: 'Mount and redeploy' }).click();
    await page.locator('#v-path-error', { hasText: '/app' }).waitFor();
    expect(await page.getByLabel('Mount path').getAttribute('aria-invalid')).to.equal('true');
    expect((await fx.apps.get(app))!.volumes ?? []).to.deep.equal([]);

    await page.getByLabel('Size in MiB').fill('lots');
    await page.getByRole('button', { name: 'Mount and redeploy' }).click();
    await page.locator('#v-size-error', { hasText: 'whole number of MiB' }).waitFor();

    await page.getByLabel('Mount path').fill('/data');
    await page.getByLabel('Size in MiB').fill('512');
    await page.getByRole('button', { name: 'Mount and redeploy' }).click();
    await page.locator('#volumes-message', { hasText: 'Volume data mounted at /data; redeploy queued' }).waitFor();
    expect((await fx.apps.get(app))!.volumes).to.deep.equal([{ name: 'data', path: '/data', size: 512 }]);
    expect((await queued(await jobIn('#volumes-message')))?.data).to.include({ app, release: 'r000002' });
    const row = page.locator('#volumes-body tr[data-volume="data"]');
    expect(await row.textContent())
      .to.include('/data')
      .and.include('512 MiB')
      .and.include('not measured yet');
    expect(await page.getByLabel('Mount path').inputValue(), 'the form emptied').to.equal('');
  });

  it('backs up a volume (a job queued), lists its backups, downloads one and restores it after a confirmation', async () => {
    // The deploy the last test queued is done, as a worker would leave it.
    await fx.apps.update(app, (d) => ({ ...d, status: 'running', release: 'r000002', pendingRelease: undefined }));
    await page.getByRole('button', { name: 'Back up volume data' }).click();
    await page.locator('#volumes-message', { hasText: 'of data started' }).waitFor();
    const text = (await page.locator('#volumes-message').textContent()) ?? '';
    const backupId = /Backup (\S+) of/.exec(text)?.[1];
    expect((await queued(await jobIn('#volumes-message')))?.data).to.include({
      op: 'backup',
      volume: 'data',
      backup: backupId,
    });
    // What the backup job stores when it is done.
    const tar = Buffer.from('a tar of the volume');
    await new VolumeBackupStore(fx.redis).put(
      app,
      { id: backupId!, volume: 'data', size: 2048, createdAt: '2026-03-01T12:00:00.000Z', filename: `${app}-data.tar` },
      tar,
      5,
    );
    await page.getByRole('button', { name: 'Show backups of volume data' }).click();
    const backup = page.locator(`#volume-backups-body tr[data-backup="${backupId}"]`);
    await backup.waitFor();
    expect(await backup.textContent())
      .to.include('2.0 KiB')
      .and.include('2026-03-01 12:00 UTC');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: `Download ${backupId}` }).click(),
    ]);
    expect(download.suggestedFilename()).to.equal(`${app}-data.tar`);
    expect(await fs.readFile((await download.path())!)).to.deep.equal(tar);
    await page.locator('#volumes-message', { hasText: `Backup ${backupId} of data downloaded` }).waitFor();

    const question = confirmNext();
    await page.getByRole('button', { name: `Restore data from ${backupId}` }).click();
    expect(await question).to.include('stop');
    await page.locator('#volumes-message', { hasText: `Restore of data from ${backupId} queued` }).waitFor();
    expect((await queued(await jobIn('#volumes-message')))?.data).to.include({ op: 'restore', backup: backupId });
    await page.screenshot({ path: path.join(artifacts, 'manage-07-volumes.png'), fullPage: true });
  });

  it("refuses to delete a mounted volume's data in words, then unmounts it (data kept) and deletes it after confirmations", async () => {
    await page.getByLabel('Unmounted volume').fill('data');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete its data' }).click();
    await page.locator('#v-delete-error', { hasText: 'unmount it first' }).waitFor();

    const question = confirmNext();
    await page.getByRole('button', { name: 'Unmount volume data' }).click();
    expect(await question).to.include('data is kept');
    await page.locator('#volumes-message', { hasText: 'data unmounted, its data kept' }).waitFor();
    expect((await fx.apps.get(app))!.volumes ?? []).to.deep.equal([]);
    await page.locator('#volumes-empty').waitFor();
    expect(await page.getByLabel('Unmounted volume').inputValue(), 'offered for deletion').to.equal('data');

    const deletion = confirmNext();
    await page.getByRole('button', { name: 'Delete its data' }).click();
    expect(await deletion).to.include('cannot be undone');
    await page.locator('#volumes-message', { hasText: 'Deletion of the data of data queued' }).waitFor();
    expect((await queued(await jobIn('#volumes-message')))?.data).to.include({ op: 'remove', volume: 'data' });
  });

  it('adds a schedule: a bad cron and an unknown time zone shown at their inputs, then stored with its next run', async () => {
    await page.getByRole('tab', { name: 'Schedules' }).click();
    await page.locator('#schedules-empty').waitFor();
    await page.getByLabel('Cron').fill('every day');
    await page.getByLabel('Scheduled command').fill('npm run report');
    await page.getByLabel('Time zone').fill('Mars/Olympus');
    await page.getByRole('button', { name: 'Add the schedule' }).click();
    await page.locator('#s-timezone-error:not(:empty)').waitFor();
    expect(await page.getByLabel('Time zone').getAttribute('aria-invalid')).to.equal('true');
    await page.getByLabel('Time zone').fill('Europe/Paris');
    await page.getByRole('button', { name: 'Add the schedule' }).click();
    await page.locator('#s-schedule-error:not(:empty)').waitFor();
    expect(await page.getByLabel('Time zone').getAttribute('aria-invalid')).to.equal(null);
    expect(await new ScheduleStore(fx.redis).list(app)).to.deep.equal([]);

    await page.getByLabel('Cron').fill('0 3 * * *');
    await page.getByLabel('While the last one is still going').selectOption('allow');
    await page.getByRole('button', { name: 'Add the schedule' }).click();
    await page
      .locator('#schedules-message', {
        hasText: 'Schedule added: npm run report at 0 3 * * * (Europe/Paris); next run',
      })
      .waitFor();
    const [stored] = await new ScheduleStore(fx.redis).list(app);
    expect(stored).to.include({
      command: 'npm run report',
      schedule: '0 3 * * *',
      timezone: 'Europe/Paris',
      overlap: 'allow',
    });
    const row = page.locator(`#schedules-body tr[data-schedule="${stored!.id}"]`);
    expect(await row.locator('.next-run').textContent()).to.match(/^\d{4}-\d\d-\d\d (01|02):00:00 UTC$/);
  });

  it("lists a schedule's runs with how each ended, and removes the schedule after a confirmation", async () => {
    const store = new ScheduleStore(fx.redis);
    const [schedule] = await store.list(app);
    await page.getByRole('button', { name: 'Show runs of npm run report' }).click();
    await page.locator('#schedule-runs-empty').waitFor();
    await store.recordSkipped(app, schedule!.id, Date.parse('2026-03-02T02:00:00Z'), 'the app is stopped');
    // A run a day later whose command exited 3: its job taken by a BullMQ worker that answers as
    // the node's worker does (workers/apps/run-app.ts).
    const doc = (await fx.apps.get(app))!;
    const runsNode = `n-${suffix()}`;
    const id = `run-${app}-${doc.uid}-${suffix()}`;
    const data = { app, uid: doc.uid, command: 'npm run report', schedule: schedule!.id };
    await jobAdder(fx.redis, fx.queues, 1)(runsNode, runAppJob, id, data, doc.owner);
    const connection = fx.redis.duplicate();
    const result = { exitCode: 3, durationMs: 1234, tail: ['2 rows read', 'report failed: no table "sales"'] };
    const worker = new Worker(queueName(runsNode), async () => result, { connection, prefix: bullPrefix });
    await new Promise<void>((resolve) => worker.on('completed', () => resolve()));
    await worker.close();
    connection.disconnect();
    await store.recordRun(app, schedule!.id, Date.parse('2026-03-03T02:00:00Z'), id);

    await page.getByRole('button', { name: 'Show runs of npm run report' }).click();
    const run = page.locator('#schedule-runs-body tr[data-state="skipped"]');
    await run.waitFor();
    expect(await run.textContent())
      .to.include('2026-03-02 02:00:00 UTC')
      .and.include('the app is stopped');
    const failed = page.locator('#schedule-runs-body tr').first();
    expect(await failed.getAttribute('data-state'), 'newest first').to.equal('completed');
    expect(await failed.locator('td').allTextContents()).to.deep.equal([
      'failed',
      '3',
      '1.2 s',
      'Output2 rows read\nreport failed: no table "sales"',
    ]);
    expect(await failed.locator('pre').isVisible(), 'the output folded').to.equal(false);
    await failed.getByText('Output').click();
    expect(await failed.locator('pre').isVisible()).to.equal(true);
    expect(await page.locator('#schedule-runs-title').textContent()).to.equal('Runs of npm run report');
    await page.screenshot({ path: path.join(artifacts, 'manage-08-schedules.png'), fullPage: true });

    const question = confirmNext();
    await page.getByRole('button', { name: 'Remove schedule npm run report' }).click();
    expect(await question).to.include('0 3 * * *');
    await page.locator('#schedules-message', { hasText: 'removed: it runs no more' }).waitFor();
    expect(await store.list(app)).to.deep.equal([]);
    await page.locator('#schedules-empty').waitFor();
    expect(await page.locator('#schedule-runs').isHidden()).to.equal(true);
    expect(browser.problems, browser.problems.join('\n')).to.deep.equal([]);
  });
});
