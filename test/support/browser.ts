import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page, type Request, type Response } from 'playwright-core';

const run = promisify(execFile);
const chromiumPath = '/usr/bin/chromium';

/**
 * Debian's Chromium, headless, as the machine allows it: no sandbox (tests run as root), and no
 * background connections, which this machine's closed network refuses many at a time.
 */
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The shim that hides the host's interface changes from Chromium (no-netlink.c says why), built
 * once per source version into the checkout's own cache: not a shared temporary directory, where
 * another user could leave a library of the same name for a root test run to preload.
 */
async function buildNoNetlinkShim(): Promise<string> {
  const source = fileURLToPath(new URL('./no-netlink.c', import.meta.url));
  const hash = crypto
    .createHash('sha256')
    .update(await fs.readFile(source))
    .digest('hex')
    .slice(0, 12);
  const dir = path.resolve('node_modules/.cache/gasper-tests');
  await fs.mkdir(dir, { recursive: true });
  const shim = path.join(dir, `no-netlink-${hash}.so`);
  if (await fs.stat(shim).catch(() => undefined)) return shim;
  const building = `${shim}.${process.pid}`;
  await run('cc', ['-shared', '-fPIC', '-O2', '-o', building, source, '-ldl']).catch((err: Error) => {
    throw new Error(`could not build ${source} (scripts/setup.sh installs gcc): ${err.message}`);
  });
  await fs.rename(building, shim);
  return shim;
}
/** Built or found once per test run, whatever the number of browsers. */
let noNetlinkShim: Promise<string> | undefined;

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Script errors, console errors (but failed fetches: a 401 is one) and renderer crashes, in order. */
  problems: string[];
  /** Goes to the dashboard at `url` and waits until its script has started; says what went wrong if it never does. */
  openDashboard(url: string): Promise<Response | null>;
  close(): Promise<void>;
}

/**
 * A fresh headless Chromium profile with one page that records what went wrong in it. A page
 * that never gets ready fails with those records, the requests that failed and a screenshot,
 * rather than with a bare timeout.
 */
export async function launchTestBrowser(options: {
  /** Where a screenshot of a page that never got ready goes. */
  artifacts: string;
  /** Console errors a test expects, besides failed fetches. */
  expectedConsoleErrors?: RegExp;
}): Promise<TestBrowser> {
  await fs.access(chromiumPath).catch(() => {
    throw new Error(`these tests need Debian's chromium at ${chromiumPath} (scripts/setup.sh installs it)`);
  });
  await fs.mkdir(options.artifacts, { recursive: true });
  const userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    env: { ...process.env, LD_PRELOAD: await (noNetlinkShim ??= buildNoNetlinkShim()) },
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  const failedRequests: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('crash', () => problems.push('the page crashed'));
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() !== 'error' || /Failed to load resource/.test(text)) return;
    if (!options.expectedConsoleErrors?.test(text)) problems.push(text);
  });
  // What the page asked for and has no answer to yet: the likely reason a page hangs.
  const pending = new Set<string>();
  const said = (request: Request) => `${request.method()} ${request.url()}`;
  page.on('request', (request) => pending.add(said(request)));
  page.on('requestfinished', (request) => pending.delete(said(request)));
  page.on('requestfailed', (request) => {
    pending.delete(said(request));
    failedRequests.push(`${said(request)}: ${request.failure()?.errorText}`);
  });

  async function openDashboard(url: string): Promise<Response | null> {
    const response = await page.goto(url);
    try {
      await page.waitForSelector('body[data-ready="true"]');
    } catch (err) {
      const screenshot = path.join(options.artifacts, 'never-ready.png');
      await page.screenshot({ path: screenshot, fullPage: true }).catch(() => undefined);
      const state = await page.evaluate(() => document.readyState).catch((e: Error) => `unknown (${e.message})`);
      throw new Error(
        [
          `the dashboard at ${url} never got ready (${(err as Error).message.split('\n')[0]})`,
          `document: ${state}; screenshot: ${screenshot}`,
          `problems: ${JSON.stringify(problems)}`,
          `failed requests: ${JSON.stringify(failedRequests)}`,
          `requests without an answer: ${JSON.stringify([...pending])}`,
        ].join('\n'),
      );
    }
    return response;
  }

  return {
    context,
    page,
    problems,
    openDashboard,
    async close() {
      await context.close();
      await fs.rm(userDataDir, { recursive: true, force: true });
    },
  };
}
