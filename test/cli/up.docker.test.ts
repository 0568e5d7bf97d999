import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ensureCliBuilt, gasperBin } from '../support/cli.ts';
import { dig } from '../support/dig.ts';
import { requireDocker } from '../support/docker.ts';

const bin = gasperBin;

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function gasper(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('gasper up (the command, as a process)', function () {
  this.timeout(60_000);
  let stateDir: string;

  before(async () => {
    await requireDocker();
    await ensureCliBuilt();
  });
  beforeEach(async () => {
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-up-'));
  });
  afterEach(async () => {
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  const badConfigs: [string, string][] = [
    ['GASPER_API_PORT', 'http'],
    ['GASPER_DOMAIN', 'Not A Domain'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['GASPER_NODE_ADDRESS', 'somewhere'],
    ['GASPER_ADMIN_TOKEN', 'short'],
    ['GASPER_ALLOW_LOCAL_REPOS', 'perhaps'],
    ['GASPER_DNS_PROXY_ADDRESSES', 'proxy.local'],
  ];
  for (const [variable, value] of badConfigs) {
    it(`refuses to start when ${variable}=${JSON.stringify(value)}, naming the variable`, async () => {
      const run = gasper(['up'], { GASPER_STATE_DIR: stateDir, [variable]: value });
      expect(await run.exited).to.equal(2);
      expect(run.stderr()).to.match(new RegExp(`^gasper: bad configuration: ${variable}: `));
    });
  }

  it('refuses to start services compiled before a source changed, saying what to run', async () => {
    // A copy of the package whose one source is newer than its dist/: a checkout updated since the build.
    const root = path.join(stateDir, 'pkg');
    await fs.cp(path.dirname(bin), path.join(root, 'bin'), { recursive: true });
    await fs.cp(path.resolve('dist'), path.join(root, 'dist'), { recursive: true });
    await fs.cp(path.resolve('package.json'), path.join(root, 'package.json'));
    await fs.symlink(path.resolve('node_modules'), path.join(root, 'node_modules'));
    await fs.mkdir(path.join(root, 'src', 'proxy'), { recursive: true });
    await fs.writeFile(path.join(root, 'src', 'proxy', 'forward.ts'), '// changed after the build\n');
    const child = spawn(process.execPath, [path.join(root, 'bin', 'gasper.js'), 'up'], {
      env: { PATH: process.env.PATH!, HOME: os.tmpdir(), GASPER_STATE_DIR: stateDir },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    expect(await new Promise((resolve) => child.on('exit', resolve))).to.equal(1);
    expect(stderr).to.match(
      /^gasper: the compiled platform \(dist\/\) is older than \S*src\/proxy\/forward\.ts: run `npm run build`/,
    );
  });

  it('starts Redis, worker, proxy, DNS and API; prints a generated admin token once; stops cleanly on SIGTERM', async () => {
    const [apiPort, proxyPort, dnsPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      GASPER_STATE_DIR: stateDir,
      GASPER_API_PORT: String(apiPort),
      GASPER_PROXY_PORT: String(proxyPort),
      GASPER_API_HOST: '127.0.0.1',
      GASPER_PROXY_HOST: '127.0.0.1',
      GASPER_HTTPS_PORT: '0',
      GASPER_SSH_PORT: '0',
      GASPER_SSH_HOST: '127.0.0.1',
      GASPER_TERMINAL_PORT: '0',
      GASPER_NODE_ID: `t-up-${process.pid}`,
      GASPER_DNS_PORT: String(dnsPort),
      GASPER_DNS_HOST: '127.0.0.1',
    };
    const first = gasper(['up'], env);
    await until(() => first.stdout().includes('gasper is up'), 30_000, 'gasper up');
    const token = /Admin token \(shown once, store it now\):\n\s+(\S+)/.exec(first.stderr())?.[1];
    expect(token, first.stderr()).to.match(/^gsp_/);

    const authed = await fetch(`http://127.0.0.1:${apiPort}/apps`, { headers: { authorization: `Bearer ${token}` } });
    expect(authed.status).to.equal(200);
    expect((await fetch(`http://127.0.0.1:${apiPort}/apps`)).status).to.equal(401);
    const proxied = await fetch(`http://127.0.0.1:${proxyPort}/`, {
      headers: { host: `nothing.localhost:${proxyPort}` },
    });
    expect(proxied.status).to.equal(404);
    // The compiled platform, as users run it: the dashboard's files found from dist/, the proxy's
    // processes running the compiled entry with no TypeScript loader.
    const page = await fetch(`http://127.0.0.1:${apiPort}/dashboard/`);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.include('<title>Gasper');
    expect((await fetch(`http://127.0.0.1:${apiPort}/dashboard/js/main.js`)).status).to.equal(200);
    const proxies = await childCommands(first.child.pid!);
    expect(proxies.filter((c) => c.includes('dist/proxy/process-entry.js'))).to.have.length.of.at.least(1);
    expect(proxies.join('\n')).to.not.include('tsx');
    const soa = await dig(dnsPort, 'localhost', 'SOA');
    expect(soa.status).to.equal('NOERROR');
    expect(soa.flags).to.include('aa');
    // Only the token's hash is kept, in Redis; the state dir holds no copy of it.
    const aof = await readTree(stateDir);
    expect(aof).to.not.include(token!);

    first.child.kill('SIGTERM');
    expect(await first.exited).to.equal(0);
    expect(first.stdout()).to.include('shutting down');
    await until(async () => !(await listening(apiPort)) && !(await listening(proxyPort)), 5_000, 'ports to close');

    // Second start: same data (AOF), no new token, the first one still valid.
    const second = gasper(['up'], env);
    await until(() => second.stdout().includes('gasper is up'), 30_000, 'second gasper up');
    expect(second.stderr()).to.not.include('Admin token');
    const again = await fetch(`http://127.0.0.1:${apiPort}/apps`, { headers: { authorization: `Bearer ${token}` } });
    expect(again.status).to.equal(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).to.equal(0);
  });
});

/** The command lines of a process's children (/proc). */
async function childCommands(pid: number): Promise<string[]> {
  const commands: string[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The parent's pid is the second field after the command, which is in parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== pid) continue;
    commands.push((await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' '));
  }
  return commands;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function readTree(dir: string): Promise<string> {
  let all = '';
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) all += await fs.readFile(path.join(entry.parentPath, entry.name), 'utf8').catch(() => '');
  }
  return all;
}
