import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

const curl = (...args: string[]) => promisify(execFile)('curl', args);

/**
 * One sample app per runtime, deployed with neither `build` nor `run`: the conventions alone
 * install its dependencies and start it, and it answers through the proxy. Only the npm registry
 * and Debian's packages are reachable from these machines, so the Python app's dependency is a
 * wheel kept in its repository (PyPI is not reachable), and the Ruby app uses the rack and
 * webrick that the image takes from Debian (rubygems.org is not reachable, so `bundle install`
 * of a Gemfile cannot be exercised here).
 */
describe('runtimes and conventions: sample apps with no build or run (Docker, Redis, git)', function () {
  this.timeout(600_000);
  let gasper: TestPlatform;
  const repos: GitFixture[] = [];
  const unique = (runtime: string) => `rt-${runtime}-${crypto.randomBytes(3).toString('hex')}`;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({ GASPER_HEALTH_TIMEOUT_MS: '60000' });
  });
  after(async () => {
    await gasper?.close();
    await Promise.all(repos.map((r) => r.remove()));
  });

  /** Deploys `files` as `runtime` with no build and no run; returns the app's name and job log. */
  async function deploy(runtime: string, files: Record<string, string | Buffer>) {
    const repo = await createGitRepo(files);
    repos.push(repo);
    const name = unique(runtime);
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url }, runtime })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id, 540_000);
    return { name, job, log: job.log.join('\n') };
  }
  const get = (name: string, path = '/') => viaProxy(gasper.proxyPort, `${name}.localhost:${gasper.proxyPort}`, path);
  /** The status of each path, in order. */
  const statusesOf = async (name: string, paths: string[]): Promise<Record<string, number>> => {
    const statuses: Record<string, number> = {};
    for (const path of paths) statuses[path] = (await get(name, path)).status;
    return statuses;
  };

  it('node: npm ci from package-lock.json (a dependency from the npm registry), then the start script without npm', async () => {
    const { name, job, log } = await deploy('node', {
      'package.json': JSON.stringify({
        name: 'sample',
        version: '1.0.0',
        scripts: { start: 'node server.js' },
        dependencies: { 'is-number': '7.0.0' },
      }),
      'package-lock.json': JSON.stringify({
        name: 'sample',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'sample', version: '1.0.0', dependencies: { 'is-number': '7.0.0' } },
          'node_modules/is-number': {
            version: '7.0.0',
            resolved: 'https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz',
            integrity:
              'sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==',
            engines: { node: '>=0.12.0' },
          },
        },
      }),
      'server.js': `const isNumber = require('is-number');
require('http').createServer((req, res) => res.end('node ' + isNumber(process.env.PORT) + '\\n')).listen(process.env.PORT);
`,
    });
    expect(job.state, log).to.equal('completed');
    expect(log).to.include('build: npm ci --no-audit --no-fund (package-lock.json)');
    expect(log).to.include('run: node server.js (the start script of package.json, run without npm)');
    expect(log).to.include('$ npm ci --no-audit --no-fund');
    const reply = await get(name);
    expect(reply.status).to.equal(200);
    expect(reply.body).to.equal('node true\n');

    // The container was made before the clone, with the launcher; the command came after it.
    const [container] = await managedContainers(gasper.nodeId, name);
    const info = await docker.getContainer(container!.Id).inspect();
    expect(info.Config.Cmd?.join(' ')).to.include('/etc/gasper/launch/run');
    expect(info.HostConfig.Binds?.some((b) => b.endsWith(':/etc/gasper/launch:ro'))).to.equal(true);
  });

  it('python: pip install --user -r requirements.txt (a wheel in the repository), then python3 app.py', async () => {
    const { name, job, log } = await deploy('python', {
      'requirements.txt': './wheels/greeting-1.0-py3-none-any.whl\n',
      'wheels/greeting-1.0-py3-none-any.whl': Buffer.from(greetingWheel, 'base64'),
      'app.py': `import os
from http.server import BaseHTTPRequestHandler, HTTPServer
import greeting

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (greeting.greet("python") + "\\n").encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
`,
    });
    expect(job.state, log).to.equal('completed');
    expect(log).to.include('run: python3 app.py (app.py found)');
    expect(log).to.include('Successfully installed greeting-1.0');
    const reply = await get(name);
    expect(reply.status).to.equal(200);
    expect(reply.body).to.equal('hello python from a wheel\n');
  });

  it('php: composer install (autoloader), then the built-in server with public/ as the document root', async () => {
    const { name, job, log } = await deploy('php', {
      // Packagist is not reachable from these machines: the sample needs only composer's autoloader.
      'composer.json': JSON.stringify({
        name: 'gasper/sample',
        require: { php: '>=8.1' },
        autoload: { 'psr-4': { 'App\\': 'src/' } },
        repositories: [{ 'packagist.org': false }],
      }),
      'src/Greeter.php':
        '<?php\nnamespace App;\nclass Greeter { public static function greet(string $q): string { return "php " . PHP_MAJOR_VERSION . " " . $q; } }\n',
      'public/index.php':
        '<?php\nrequire __DIR__ . "/../vendor/autoload.php";\necho \\App\\Greeter::greet($_GET["q"] ?? "") . "\\n";\n',
      'secrets.txt': 'not served\n',
    });
    expect(job.state, log).to.equal('completed');
    expect(log).to.include(
      'build: composer install --no-dev --no-interaction --no-progress --prefer-dist --optimize-autoloader (composer.json)',
    );
    expect(log).to.include('run: php -S "0.0.0.0:$PORT" -t public');
    const reply = await get(name, '/?q=ok');
    expect(reply.status).to.equal(200);
    expect(reply.body).to.equal('php 8 ok\n');
    expect((await get(name, '/secrets.txt')).status).to.equal(404);
  });

  it("ruby: config.ru run by rackup (Debian's rack and webrick)", async () => {
    const { name, job, log } = await deploy('ruby', {
      'config.ru':
        'run ->(env) { [200, { "content-type" => "text/plain" }, ["ruby #{RUBY_VERSION.split(".").first} #{env["PATH_INFO"]}\\n"]] }\n',
    });
    expect(job.state, log).to.equal('completed');
    expect(log).to.include('run: rackup -p "$PORT" -o 0.0.0.0 (config.ru found)');
    const reply = await get(name, '/hi');
    expect(reply.status).to.equal(200);
    expect(reply.body).to.equal('ruby 3 /hi\n');
  });

  it('go: go build of a module (standard library net/http), then the binary', async () => {
    const { name, job, log } = await deploy('go', {
      'go.mod': 'module example.com/sample\n\ngo 1.19\n',
      'main.go': `package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "go %s\\n", runtime.GOOS) })
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		panic(err)
	}
}
`,
    });
    expect(job.state, log).to.equal('completed');
    expect(log).to.include('build: go build -o gasper-app . (go.mod)');
    expect(log).to.include('run: ./gasper-app');
    const reply = await get(name);
    expect(reply.status).to.equal(200);
    expect(reply.body).to.equal('go linux\n');
  });

  it('static: the repository root is served, without dotfiles and build files', async () => {
    const { name, job, log } = await deploy('static', {
      'index.html': '<h1>static</h1>\n',
      'about/index.html': 'about\n',
      '.env': 'SECRET=1\n',
      '.well-known/x': 'hidden\n',
      'package.json': '{}\n',
      'app.json': '{}\n',
      Procfile: '# no process types: the runtime default is the web process\n',
      'Gemfile.lock': 'x\n',
      'yarn.lock': 'x\n',
      'requirements.txt': 'x\n',
      'sub/package.json': '{}\n',
      'notes.txt': 'served\n',
    });
    expect(job.state, log).to.equal('completed');
    expect(log).to.include('build: (none)');
    expect(log).to.include('run: gasper-static . (static: serving the repository root');
    const reply = await get(name);
    expect(reply.status).to.equal(200);
    expect(reply.body).to.equal('<h1>static</h1>\n');
    expect((await get(name, '/notes.txt')).body).to.equal('served\n');
    expect((await get(name, '/about/')).body).to.equal('about\n');
    // A directory without its slash is redirected without naming the container's port.
    const redirect = await get(name, '/about');
    expect(redirect.status).to.equal(301);
    expect(redirect.headers.location).to.equal('/about/');
    const statuses = await statusesOf(name, [
      '/.env',
      '/%2eenv',
      '/sub/../.env',
      '/.well-known/x',
      '/package.json',
      '/app.json',
      '/Procfile',
      '/Gemfile.lock',
      '/yarn.lock',
      '/requirements.txt',
      '/sub/package.json',
      '/.git/config',
    ]);
    expect(Object.entries(statuses).filter(([, status]) => status !== 404)).to.deep.equal([]);
  });

  it('static: dist/ is the document root when the repository has one', async () => {
    const { name, job, log } = await deploy('static', {
      'index.html': 'the repository root\n',
      'dist/index.html': '<h1>dist</h1>\n',
      'dist/.env': 'SECRET=2\n',
      'build/index.html': 'build\n',
      '.env': 'SECRET=1\n',
      'package.json': '{}\n',
    });
    expect(job.state, log).to.equal('completed');
    expect(log).to.include('run: gasper-static dist (static: serving dist/)');
    const reply = await get(name);
    expect(reply.status).to.equal(200);
    expect(reply.body).to.equal('<h1>dist</h1>\n');
    const statuses = await statusesOf(name, [
      '/.env',
      '/package.json',
      '/dist/index.html',
      '/build/index.html',
      '/../.env',
      '/%2e%2e/.env',
    ]);
    // A path above the document root is a bad request to nginx.
    expect(statuses).to.deep.equal({
      '/.env': 404,
      '/package.json': 404,
      '/dist/index.html': 404,
      '/build/index.html': 404,
      '/../.env': 400,
      '/%2e%2e/.env': 400,
    });
  });

  it('static: HEAD through the proxy answers 200 with the headers (50 times curl -I)', async () => {
    const { name, job, log } = await deploy('static', { 'index.html': '<h1>static</h1>\n' });
    expect(job.state, log).to.equal('completed');
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 50; i++) {
      const { stdout } = await curl(
        '-sS',
        '-I',
        '-m',
        '10',
        '-w',
        '%{http_code}',
        '-H',
        `Host: ${name}.localhost:${gasper.proxyPort}`,
        `http://127.0.0.1:${gasper.proxyPort}/`,
      ).catch((err: { stdout?: string; code?: number }) => ({ stdout: `curl exit ${err.code}: ${err.stdout ?? ''}` }));
      const complete =
        /^HTTP\/1\.1 200 OK\r\n/.test(stdout) &&
        /\r\ncontent-length: 16\r\n/i.test(stdout) &&
        /\r\ncontent-type: text\/html/i.test(stdout) &&
        stdout.endsWith('\r\n\r\n200');
      const key = complete ? '200 with its headers' : JSON.stringify(stdout.slice(-80));
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    expect(outcomes).to.deep.equal({ '200 with its headers': 50 });
  });

  it('a Procfile web: process overrides the runtime default', async () => {
    const { name, job, log } = await deploy('python', {
      Procfile: 'web: python3 -m http.server "$PORT" --directory site\nworker: python3 app.py\n',
      'app.py': 'raise SystemExit("the default run must not be used")\n',
      'site/index.html': 'from the Procfile\n',
    });
    expect(job.state, log).to.equal('completed');
    expect(log).to.include('run: python3 -m http.server "$PORT" --directory site (Procfile web process)');
    expect((await get(name)).body).to.equal('from the Procfile\n');
  });

  it('a repository with nothing to run fails the deploy before starting anything, without retrying', async () => {
    const { name, job } = await deploy('node', { 'README.md': 'no code\n' });
    expect(job.state).to.equal('failed');
    expect(job.error).to.include('no run command').and.include('Procfile');
    const attempts = (await gasper.api().get(`/jobs/${job.id}`).expect(200)).body.job.attempts;
    expect(attempts.made).to.equal(1);
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
  });
});

/** A pure-Python wheel (`greeting.greet(name)`), made once with zipfile; kept here as a repository would. */
const greetingWheel =
  'UEsDBBQAAAAIAAAAIVgjTyQUOwAAAD4AAAAUAAAAZ3JlZXRpbmcvX19pbml0X18ucHlLSU1TSC9KTS3RyEvMTdW04lIAgqLUktKiPAWljNScnHwFJQVtBZAkkFJSSCvKz1VIVCjPSE3NUeICAFBLAwQUAAAACAAAACFYAWF/eC0AAAAyAAAAHwAAAGdyZWV0aW5nLTEuMC5kaXN0LWluZm8vTUVUQURBVEHzTS1JTEksSdQNSy0qzszPs1Iw0jPk8kvMTbVSSC9KTS3JzEvngssZ6hlwAQBQSwMEFAAAAAgAAAAhWHsg699RAAAAUgAAABwAAABncmVldGluZy0xLjAuZGlzdC1pbmZvL1dIRUVMBcFBCoAgEAXQvafwAhNFOy8Q7SKi1gYfE2RGxnHh7Xvv+YBCN7Rl4eCXaXYbGBpNNPgUW4WSoZk7RYz2RkdXlPwGb9rhrpiCr2MlFgZFHu4HUEsDBBQAAAAIAAAAIViDrYy/yAAAABQBAAAdAAAAZ3JlZXRpbmctMS4wLmRpc3QtaW5mby9SRUNPUkR1zs2SgiAAAOB7zwKWPxGXDhQ4rbOMaWxaF0aXUlpzGaPUt+9Sx17gm6/qTier22oqpW61ldIxI7jVhTdHyyP+zZM9ytjPyHeGrwfZ8/h4JaP0M3ynyCa9iZp0X5AEIG9SvSjoOjNH6ZuFuj3/TzkThBJB3moJPbIId2hrV7RcNRGHrsCYBqa4d39RHMghgAZnKjwkYD77pGYbxr7fpBB5fnCNvpSCt5fBt93XVpmmjooQh10aPK7+QtVUSd0D/DGasnWcUgAmT1BLAQIUAxQAAAAIAAAAIVgjTyQUOwAAAD4AAAAUAAAAAAAAAAAAAACkAQAAAABncmVldGluZy9fX2luaXRfXy5weVBLAQIUAxQAAAAIAAAAIVgBYX94LQAAADIAAAAfAAAAAAAAAAAAAACkAW0AAABncmVldGluZy0xLjAuZGlzdC1pbmZvL01FVEFEQVRBUEsBAhQDFAAAAAgAAAAhWHsg699RAAAAUgAAABwAAAAAAAAAAAAAAKQB1wAAAGdyZWV0aW5nLTEuMC5kaXN0LWluZm8vV0hFRUxQSwECFAMUAAAACAAAACFYg62Mv8gAAAAUAQAAHQAAAAAAAAAAAAAApAFiAQAAZ3JlZXRpbmctMS4wLmRpc3QtaW5mby9SRUNPUkRQSwUGAAAAAAQABAAkAQAAZQIAAAAA';
