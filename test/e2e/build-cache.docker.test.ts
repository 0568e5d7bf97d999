import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

const lockfile = {
  name: 'sample',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'sample', version: '1.0.0', dependencies: { 'is-number': '7.0.0' } },
    'node_modules/is-number': {
      version: '7.0.0',
      resolved: 'https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz',
      integrity: 'sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==',
      engines: { node: '>=0.12.0' },
    },
  },
};
const server = (greeting: string) => `const isNumber = require('is-number');
require('http').createServer((req, res) => res.end('${greeting} ' + isNumber(process.env.PORT) + '\\n')).listen(process.env.PORT);
`;

/**
 * The build cache (issue 14, item 3): a node app with a dependency from the npm registry. A
 * redeploy with the same lockfile copies the previous release's node_modules and skips `npm ci`,
 * and the app still loads its dependency; a changed lockfile (the same packages, other bytes)
 * and `POST /apps/:name/rebuild {"cache": false}` install again.
 */
describe('build cache: an unchanged lockfile skips the install (Docker, Redis, git, the npm registry)', function () {
  this.timeout(900_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  const name = `cache-${crypto.randomBytes(3).toString('hex')}`;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({ GASPER_HEALTH_TIMEOUT_MS: '60000' });
    repo = await createGitRepo({
      'package.json': JSON.stringify({
        name: 'sample',
        version: '1.0.0',
        scripts: { start: 'node server.js' },
        dependencies: { 'is-number': '7.0.0' },
      }),
      'package-lock.json': JSON.stringify(lockfile),
      'server.js': server('first'),
    });
  });
  after(async () => {
    await gasper?.api().delete(`/apps/${name}`);
    await gasper?.close();
    await repo?.remove();
  });

  const get = () => viaProxy(gasper.proxyPort, `${name}.localhost:${gasper.proxyPort}`, '/');
  /** Waits for the job; returns its log and how long POST → deployed took. */
  async function finish(started: number, res: { body: { job: { id: string } } }) {
    const job = await gasper.waitForJob(res.body.job.id, 540_000);
    const log = job.log.join('\n');
    expect(job.state, log).to.equal('completed');
    return { log, ms: Date.now() - started };
  }
  const rebuild = async (body: object = {}) => {
    const started = Date.now();
    return finish(started, await gasper.api().post(`/apps/${name}/rebuild`).send(body).expect(202));
  };

  it('first deploy installs; a redeploy with the same lockfile reuses node_modules; a changed one and cache: false install', async () => {
    const started = Date.now();
    const first = await finish(
      started,
      await gasper
        .api()
        .post('/apps')
        .send({ name, repo: { url: repo.url }, runtime: 'node' })
        .expect(202),
    );
    expect(first.log).to.include('$ npm ci --no-audit --no-fund');
    expect(first.log).to.match(
      /dependencies: package-lock.json \(sha256 [0-9a-f]{12}…\) matches no kept release: installing/,
    );
    expect((await get()).body).to.equal('first true\n');

    await repo.commit({ 'server.js': server('second') });
    const second = await rebuild();
    expect(second.log).to.match(
      /dependencies: unchanged package-lock.json \(sha256 [0-9a-f]{12}…\), reused node_modules from r000001: npm ci --no-audit --no-fund skipped/,
    );
    expect(second.log).not.to.include('$ npm ci');
    expect((await get()).body).to.equal('second true\n');
    console.log(`      first deploy ${first.ms} ms, redeploy with the same lockfile ${second.ms} ms`);

    // The same packages, other bytes: the key is the lockfile's bytes, so it installs again.
    await repo.commit({ 'package-lock.json': JSON.stringify(lockfile, null, 2), 'server.js': server('third') });
    const third = await rebuild();
    expect(third.log).to.include('matches no kept release: installing');
    expect(third.log).to.include('$ npm ci --no-audit --no-fund');
    expect((await get()).body).to.equal('third true\n');

    const fourth = await rebuild({ cache: false });
    expect(fourth.log).to.include('dependencies: cache: false: installing from nothing');
    expect(fourth.log).to.include('$ npm ci --no-audit --no-fund');
    expect((await get()).body).to.equal('third true\n');

    // The release cache: false built is a source again for the next one.
    const fifth = await rebuild();
    expect(fifth.log).to.include('reused node_modules from r000004');
    expect((await get()).body).to.equal('third true\n');
  });

  it('a rebuild body with an unknown field or a cache that is not a boolean is a 400 naming it', async () => {
    const res = await gasper.api().post(`/apps/${name}/rebuild`).send({ cache: 'no' }).expect(400);
    expect(JSON.stringify(res.body)).to.include('cache');
    const unknown = await gasper.api().post(`/apps/${name}/rebuild`).send({ cach: false }).expect(400);
    expect(JSON.stringify(unknown.body)).to.include('cach');
  });

  it('a Python app: an unchanged requirements.txt reuses the user site (.local) and skips pip', async () => {
    const py = `${name}-py`;
    const pyRepo = await createGitRepo({
      'requirements.txt': './wheels/greet-1.0-py3-none-any.whl\n',
      'wheels/greet-1.0-py3-none-any.whl': await greetWheel(),
      'app.py': pythonServer('first'),
    });
    try {
      const started = Date.now();
      const created = await gasper
        .api()
        .post('/apps')
        .send({ name: py, repo: { url: pyRepo.url }, runtime: 'python' })
        .expect(202);
      const first = await finish(started, created);
      expect(first.log).to.match(/dependencies: requirements.txt \(sha256 [0-9a-f]{12}…\) matches no kept release/);
      expect(first.log).to.include('$ pip install');
      const pyGet = () => viaProxy(gasper.proxyPort, `${py}.localhost:${gasper.proxyPort}`, '/');
      expect((await pyGet()).body).to.equal('first hello from a wheel\n');

      await pyRepo.commit({ 'app.py': pythonServer('second') });
      const again = Date.now();
      const second = await finish(again, await gasper.api().post(`/apps/${py}/rebuild`).send({}).expect(202));
      expect(second.log).to.match(
        /dependencies: unchanged requirements.txt \(sha256 [0-9a-f]{12}…\), reused .local from r000001: pip install .* skipped/,
      );
      expect(second.log).not.to.include('$ pip install');
      expect((await pyGet()).body).to.equal('second hello from a wheel\n');
    } finally {
      await gasper.api().delete(`/apps/${py}`);
      await pyRepo.remove();
    }
  });
});

const pythonServer = (greeting: string) => `import os, http.server, greet
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('${greeting} ' + greet.hello() + '\\n').encode()
        self.send_response(200); self.send_header('content-length', str(len(body))); self.end_headers(); self.wfile.write(body)
http.server.HTTPServer(('0.0.0.0', int(os.environ['PORT'])), H).serve_forever()
`;

/**
 * A pure-Python wheel made here, since no package index is reachable from these machines: pip
 * installs a wheel file with no build step and nothing to download.
 */
async function greetWheel(): Promise<Buffer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-wheel-'));
  const wheel = path.join(dir, 'greet-1.0-py3-none-any.whl');
  const script = `
import sys, zipfile
files = {
  'greet.py': 'def hello():\\n    return "hello from a wheel"\\n',
  'greet-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\\nName: greet\\nVersion: 1.0\\n',
  'greet-1.0.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: gasper-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
files['greet-1.0.dist-info/RECORD'] = ''.join(f'{n},,\\n' for n in [*files, 'greet-1.0.dist-info/RECORD'])
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for n, body in files.items():
        z.writestr(n, body)
`;
  try {
    await promisify(execFile)('python3', ['-c', script, wheel]);
    return await fs.readFile(wheel);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
