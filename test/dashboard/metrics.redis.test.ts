import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { AppMetricsStore, type ResourceSample } from '../../src/store/app-metrics.ts';
import { appName, startApiFixture, suffix, validBody, type ApiFixture } from '../api/api-fixture.ts';
import { launchTestBrowser, type TestBrowser } from '../support/browser.ts';

const artifacts = path.resolve('test-artifacts/dashboard');

/**
 * The dashboard's live metrics charts in a real headless Chromium, against the API served
 * in-process (real Redis; no Docker: samples are written the way the node worker's sampler
 * writes them, AppMetricsStore.record, and reach the page through `metrics?follow=1`).
 */
describe('web dashboard: live CPU and memory charts, in headless Chromium (real Redis)', function () {
  this.timeout(120_000);
  let fx: ApiFixture;
  let server: http.Server;
  let base: string;
  let browser: TestBrowser;
  let page: Page;
  let metrics: AppMetricsStore;
  const app = appName('charts');
  const first = `gasper-${app}-r000001-0`;
  const second = `gasper-${app}-r000001-1`;
  let clock = 0;
  const sample = (percent: number): ResourceSample => ({
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString(),
    cpu: { cores: percent / 100, limitCores: 1, percent },
    memory: { usageBytes: percent * 1024 * 1024, limitBytes: 256 * 1024 * 1024, percent: percent / 2.56 },
  });
  const record = (instance: string, percent: number) =>
    metrics.record(app, { instance, node: 'n1', release: 'r000001' }, sample(percent));
  const points = (instance: string, chart: number) =>
    page.locator(`#metrics-charts [data-instance="${instance}"] polyline.chart-line`).nth(chart).getAttribute('points');
  async function waitForPoints(instance: string, chart: number, count: number): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const value = (await points(instance, chart).catch(() => null)) ?? '';
      if (value.split(' ').filter(Boolean).length === count) return value;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`chart ${chart} of ${instance} never had ${count} points (has "${await points(instance, chart)}")`);
  }

  before(async () => {
    fx = await startApiFixture();
    metrics = new AppMetricsStore(fx.redis);
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
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await fx?.close();
  });

  it('opens the Metrics section with the history drawn, one CPU and one memory chart per instance', async () => {
    await record(first, 10);
    await record(first, 40);
    await page.getByRole('button', { name: `Show CPU and memory of ${app}` }).click();
    await page.locator('#metrics-title', { hasText: `Metrics of ${app}` }).waitFor();
    expect(await waitForPoints(first, 0, 2)).to.match(/^[\d.]+,[\d.]+ 240,33\.6$/);
    await waitForPoints(first, 1, 2);
    await page.locator(`[data-instance="${first}"] figcaption`, { hasText: 'CPU: 40% (0.4 of 1 cores)' }).waitFor();
  });

  it('adds points as samples arrive, and charts for a new instance; drops a removed one', async () => {
    await record(first, 80);
    await waitForPoints(first, 0, 3);
    await page.locator(`[data-instance="${first}"] figcaption`, { hasText: 'Memory: 31.3% (80 of 256 MiB)' }).waitFor();
    await record(second, 5);
    await waitForPoints(second, 0, 1);
    await page.screenshot({ path: path.join(artifacts, 'metrics-charts.png'), fullPage: true });
    await metrics.prune(app, 'n1', new Set([first]));
    await page.locator(`[data-instance="${second}"]`).waitFor({ state: 'detached' });
    expect(await page.locator('#metrics-charts .instance-metrics').count()).to.equal(1);
  });

  it('stops following on request, with no script or CSP error on the way', async () => {
    await page.locator('#metrics-stop').click();
    await page.locator('#metrics-status', { hasText: 'Stopped following.' }).waitFor();
    expect(browser.problems, browser.problems.join('\n')).to.deep.equal([]);
  });
});
