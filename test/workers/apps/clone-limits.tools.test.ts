import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import ssh2 from 'ssh2';
import { ensureHostKey } from '../../../src/ssh/host-key.ts';
import { CloneFailedError, cloneRelease, type CloneOptions } from '../../../src/workers/apps/clone.ts';
import { createGitRepo, type GitFixture } from '../../support/git-fixture.ts';
import { startGitHttpServer, type GitHttpServer } from '../../support/git-http.ts';

const run = promisify(execFile);

/** A TCP server that accepts connections and never says a word (#11 item 6). */
async function silentListener(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function failure(options: CloneOptions): Promise<{ err: CloneFailedError; ms: number }> {
  const started = Date.now();
  const err = await cloneRelease(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the clone should fail').to.be.instanceOf(CloneFailedError);
  return { err: err as CloneFailedError, ms: Date.now() - started };
}

describe('cloneRelease: limits, user errors, hosts, credentials (real git, servers on 127.0.0.1)', function () {
  let work: string;
  let base: Pick<CloneOptions, 'dir' | 'sshDir' | 'allowLocal'>;
  let repo: GitFixture;

  before(async () => {
    repo = await createGitRepo({ 'index.txt': 'hello\n' });
  });
  after(async () => {
    await repo?.remove();
  });
  beforeEach(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-clone-limits-'));
    base = { dir: path.join(work, 'release'), sshDir: path.join(work, 'git-ssh'), allowLocal: true };
  });
  afterEach(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  describe('a server that accepts and never answers (item 6)', function () {
    for (const scheme of ['git', 'http'] as const) {
      it(`${scheme}://: fails within the idle limit, says the server did not answer, and is not retried`, async function () {
        const silent = await silentListener();
        try {
          const { err, ms } = await failure({
            ...base,
            url: `${scheme}://127.0.0.1:${silent.port}/repo.git`,
            limits: { idleTimeoutMs: 1500, timeoutMs: 60_000 },
          });
          console.log(`      ${scheme}:// silent server: failed after ${ms} ms (idle limit 1500 ms): ${err.message}`);
          expect(err.message).to.match(/the server at 127\.0\.0\.1 did not answer within 1\.5 s/);
          expect(err.kind).to.equal('timeout');
          expect(err.permanent).to.equal(true);
          expect(ms).to.be.within(1400, 4000);
          expect(silent.connections()).to.be.at.least(1);
        } finally {
          await silent.close();
        }
      });
    }

    it('the total limit stops a clone however it goes', async function () {
      const silent = await silentListener();
      try {
        const { err, ms } = await failure({
          ...base,
          url: `git://127.0.0.1:${silent.port}/repo.git`,
          limits: { idleTimeoutMs: 30_000, timeoutMs: 1000 },
        });
        expect(err.message).to.match(/took longer than 1 s \(GASPER_CLONE_TIMEOUT_MS\)/);
        expect(err.kind).to.equal('timeout');
        expect(ms).to.be.below(3000);
      } finally {
        await silent.close();
      }
    });
  });

  describe('user errors fail at once (item 19)', function () {
    it('an http repository that is not there (404) is "not found", permanent', async function () {
      const server = http.createServer((_req, res) => res.writeHead(404).end('no such repository\n'));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/nope.git`;
        const { err } = await failure({ ...base, url });
        // The URL, not only its host: a user with several repositories there knows which one.
        expect(err.message).to.include(`repository ${url} not found`);
        expect(err.kind).to.equal('user');
        expect(err.permanent).to.equal(true);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('git://: a repository the daemon does not have is "not found", permanent', async function () {
      const port = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = s.address() as net.AddressInfo;
          s.close(() => resolve(port));
        });
      });
      const daemon = spawn(
        'git',
        ['daemon', '--listen=127.0.0.1', `--port=${port}`, '--export-all', '--reuseaddr', `--base-path=${work}`, work],
        { stdio: 'ignore' },
      );
      try {
        for (
          let i = 0;
          i < 50 &&
          !(await new Promise((r) =>
            net
              .connect(port, '127.0.0.1')
              .on('connect', function (this: net.Socket) {
                this.destroy();
                r(true);
              })
              .on('error', () => r(false)),
          ));
          i++
        ) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const url = `git://127.0.0.1:${port}/nope.git`;
        const { err } = await failure({ ...base, url });
        expect(err.message).to.include(`repository ${url} not found`);
        expect(err.permanent).to.equal(true);
      } finally {
        daemon.kill();
      }
    });

    it('ssh://: GitHub\'s "ERROR: Repository not found." is "not found", permanent', async function () {
      const hostKey = await ensureHostKey(path.join(work, 'hostkey'));
      const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
        client.on('authentication', (ctx) => ctx.accept());
        client.on('session', (accept) => {
          accept().on('exec', (acceptExec) => {
            const stream = acceptExec();
            stream.stderr.write('ERROR: Repository not found.\n');
            stream.exit(1);
            stream.end();
          });
        });
        client.on('error', () => {});
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const url = `ssh://git@127.0.0.1:${(server.address() as net.AddressInfo).port}/o/nope.git`;
        const { err } = await failure({ ...base, url });
        expect(err.message).to.include(`repository ${url} not found`);
        expect(err.permanent).to.equal(true);
      } finally {
        server.close();
      }
    });

    it('a file:// repository that is not there is "not found", permanent', async function () {
      const { err } = await failure({ ...base, url: `file://${work}/nothing-here` });
      expect(err.message).to.include(`repository file://${work}/nothing-here not found`);
      expect(err.permanent).to.equal(true);
    });

    it('a branch that is not there is named, permanent', async function () {
      const { err } = await failure({ ...base, url: repo.url, branch: 'nope' });
      expect(err.message).to.include(`branch nope not found in ${repo.url}`);
      expect(err.permanent).to.equal(true);
    });
  });

  describe('hosts and messages (item 7)', function () {
    it('refuses a loopback host at clone time unless allowed, without connecting', async function () {
      const silent = await silentListener();
      try {
        for (const host of ['127.0.0.1', '2130706433', '0x7f.1', 'localhost']) {
          const { err } = await failure({ ...base, allowLocal: false, url: `git://${host}:${silent.port}/repo.git` });
          expect(err.message).to.match(/repository refused: host .*loopback/);
          expect(err.permanent).to.equal(true);
        }
        expect(silent.connections()).to.equal(0);
      } finally {
        await silent.close();
      }
    });

    it('http(s): git connects to the addresses checked, not to what DNS says next (rebinding)', async function () {
      const server = await startGitHttpServer(repo.dir);
      try {
        const url = server.url.replace('127.0.0.1', 'localhost');
        // The check saw 127.0.0.2 (where nothing listens); the system resolver would say 127.0.0.1.
        const { err } = await failure({ ...base, url, lookup: async () => ['127.0.0.2'] });
        expect(err.message).to.equal('git clone failed: could not reach the repository at localhost');
        expect(server.requests).to.deep.equal([]);
        const ok = await cloneRelease({ ...base, url, lookup: async () => ['127.0.0.1'] });
        expect(ok.commit).to.match(/^[0-9a-f]{40}$/);
      } finally {
        await server.close();
      }
    });

    it('http(s): a redirect is not followed (it would lead git past the host check)', async function () {
      const server = await startGitHttpServer(repo.dir);
      const redirector = http.createServer((req, res) =>
        res.writeHead(302, { location: `${server.url}${(req.url ?? '/').replace(/^\/repo\.git/, '')}` }).end(),
      );
      await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(redirector.address() as net.AddressInfo).port}/repo.git`;
        const { err } = await failure({ ...base, url });
        expect(err.message).to.match(/^git clone failed: /);
        expect(server.requests, 'the redirect target was never asked').to.deep.equal([]);
      } finally {
        redirector.closeAllConnections();
        redirector.close();
        await server.close();
      }
    });

    it('a closed port and an open port that is not git read the same', async function () {
      const closed = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = s.address() as net.AddressInfo;
          s.close(() => resolve(port));
        });
      });
      const web = http.createServer((_req, res) => res.end('hello'));
      await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
      try {
        const a = await failure({ ...base, url: `git://127.0.0.1:${closed}/repo.git` });
        const b = await failure({
          ...base,
          url: `git://127.0.0.1:${(web.address() as net.AddressInfo).port}/repo.git`,
        });
        console.log(`      closed port: "${a.err.message}"; open http port: "${b.err.message}"`);
        expect(a.err.message).to.equal('git clone failed: could not reach the repository at 127.0.0.1');
        expect(b.err.message).to.equal(a.err.message);
        expect(a.err.message).not.to.match(/refused|closed|\bport\b|:\d+/i);
      } finally {
        web.closeAllConnections();
        web.close();
      }
    });

    it("ssh:// records the host key in the installation's known_hosts, never root's", async function () {
      const keyDir = path.join(work, 'hostkey');
      const hostKey = await ensureHostKey(keyDir);
      const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
        client.on('authentication', (ctx) => ctx.reject());
        client.on('error', () => {});
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const rootKnownHosts = path.join(os.homedir(), '.ssh', 'known_hosts');
      const before = await fs.readFile(rootKnownHosts, 'utf8').catch(() => undefined);
      try {
        const port = (server.address() as net.AddressInfo).port;
        const url = `ssh://git@127.0.0.1:${port}/repo.git`;
        const { err } = await failure({ ...base, url });
        // The key offered is the installation's, not the tenant's: the way in is https with a token.
        expect(err.message).to.equal(
          `git clone failed: authentication failed for ${url}: the server refused this installation's SSH key: clone over https with an access token (repo.token) instead`,
        );
        expect(err.permanent).to.equal(true);
        const known = await fs.readFile(path.join(base.sshDir, 'known_hosts'), 'utf8');
        expect(known).to.match(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${port} ssh-ed25519 `, 'm'));
        expect(await fs.readFile(rootKnownHosts, 'utf8').catch(() => undefined)).to.equal(before);
      } finally {
        server.close();
      }
    });
  });

  describe('credentials (item 8)', function () {
    let server: GitHttpServer;
    const token = `tok_${crypto.randomBytes(12).toString('hex')}`;
    let argvSeen: string[] = [];
    afterEach(async () => {
      await server?.close();
    });

    it('clones with a token given apart, sent as Basic auth, never in any argv or message', async function () {
      server = await startGitHttpServer(repo.dir, {
        auth: { username: 'alice', password: token },
        beforeAnswer: async () => {
          // Every process's command line while git is talking to the server.
          argvSeen.push((await run('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 })).stdout);
        },
      });
      argvSeen = [];
      const result = await cloneRelease({ ...base, url: server.url, credentials: { username: 'alice', token } });
      expect(result.commit).to.match(/^[0-9a-f]{40}$/);
      expect(await fs.readFile(path.join(base.dir, 'index.txt'), 'utf8')).to.equal('hello\n');
      expect(server.authorizations.filter(Boolean).length).to.be.at.least(1);
      expect(argvSeen.length).to.be.at.least(1);
      for (const listing of argvSeen) expect(listing).not.to.include(token);
    });

    it('without the token, or with a wrong one: authentication failed, said for each, permanent, the token not echoed', async function () {
      server = await startGitHttpServer(repo.dir, { auth: { username: 'alice', password: token } });
      const none = await failure({ ...base, url: server.url });
      expect(none.err.message).to.equal(
        `git clone failed: authentication failed for ${server.url}: the repository is private: give the app an access token (repo.token, https) or make the repository public`,
      );
      expect(none.err.permanent).to.equal(true);
      const wrong = await failure({ ...base, url: server.url, credentials: { username: 'alice', token: `${token}x` } });
      // With a token the refusal is the token's: the message says so rather than ask for one.
      expect(wrong.err.message).to.equal(
        `git clone failed: authentication failed for ${server.url}: the server refused the access token (expired, mistyped, or without read access to this repository)`,
      );
      expect(`${wrong.err.message}${wrong.err.detail}`).not.to.include(token);
    });
  });
});
