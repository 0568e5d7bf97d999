import { expect } from 'chai';
import { runtimeNames } from '../../../src/core/runtimes.ts';
import {
  ConventionError,
  parseProcfile,
  planConventions,
  type RepoListing,
} from '../../../src/workers/apps/conventions.ts';

/** A listing from file names; files given with contents are listed too. */
function repo(entries: string[], contents: RepoListing['contents'] = {}): RepoListing {
  return { entries: [...new Set([...entries, ...Object.keys(contents)])], contents };
}
const pkg = (value: object) => JSON.stringify(value);

const npmCi = 'npm ci --no-audit --no-fund';
const npmInstall = 'npm install --no-audit --no-fund';
const pipInstall = 'pip install --user --no-cache-dir --no-warn-script-location -r requirements.txt';
const composerInstall = 'composer install --no-dev --no-interaction --no-progress --prefer-dist --optimize-autoloader';
const goBuild = 'go build -o gasper-app .';
const staticRoot = 'gasper-static .';

/** runtime, what the repository holds → default build commands and run command. */
const layouts: [string, string, RepoListing, string[], string][] = [
  // node
  [
    'node',
    'start script and a lock file',
    repo(['package-lock.json'], { 'package.json': pkg({ scripts: { start: 'node s.js' }, dependencies: { a: '1' } }) }),
    [npmCi],
    'node s.js',
  ],
  [
    'node',
    'a yarn.lock: Yarn 1, then the build script',
    repo(['yarn.lock'], {
      'package.json': pkg({ scripts: { start: 'node s.js', build: 'tsc' }, dependencies: { a: '1' } }),
    }),
    ['yarn install --frozen-lockfile', 'npm run build'],
    'node s.js',
  ],
  [
    'node',
    'a pnpm-lock.yaml: pnpm through corepack',
    repo(['pnpm-lock.yaml'], { 'package.json': pkg({ scripts: { start: 'node s.js' }, dependencies: { a: '1' } }) }),
    ['corepack pnpm install --frozen-lockfile'],
    'node s.js',
  ],
  [
    'node',
    'a start script with flags runs without npm too',
    repo(['server.js'], { 'package.json': pkg({ scripts: { start: 'node  --enable-source-maps server.js' } }) }),
    [],
    'node --enable-source-maps server.js',
  ],
  [
    'node',
    'a start script that is not plain node runs through npm',
    repo(['server.js'], { 'package.json': pkg({ scripts: { start: 'node server.js | tee log' } }) }),
    [],
    'npm start',
  ],
  [
    'node',
    'a prestart hook keeps npm start (npm runs the hook)',
    repo(['server.js'], { 'package.json': pkg({ scripts: { prestart: 'node migrate.js', start: 'node server.js' } }) }),
    [],
    'npm start',
  ],
  [
    'node',
    'npm-shrinkwrap.json as the lock',
    repo(['npm-shrinkwrap.json', 'server.js'], { 'package.json': pkg({}) }),
    [npmCi],
    'node server.js',
  ],
  [
    'node',
    'dependencies without a lock',
    repo(['server.js'], { 'package.json': pkg({ dependencies: { express: '^5' } }) }),
    [npmInstall],
    'node server.js',
  ],
  [
    'node',
    'only devDependencies without a lock',
    repo(['index.js'], { 'package.json': pkg({ devDependencies: { tsx: '4' } }) }),
    [npmInstall],
    'node index.js',
  ],
  [
    'node',
    'no dependencies: nothing to install',
    repo(['server.js'], { 'package.json': pkg({ scripts: { start: 'node server.js' } }) }),
    [],
    'node server.js',
  ],
  [
    'node',
    'a build script runs after the install',
    repo(['package-lock.json'], { 'package.json': pkg({ scripts: { build: 'tsc', start: 'node dist' } }) }),
    [npmCi, 'npm run build'],
    'node dist',
  ],
  [
    'node',
    'package.json "main"',
    repo(['lib/', 'lib/app.js', 'server.js'], { 'package.json': pkg({ main: './lib/app.js' }) }),
    [],
    'node lib/app.js',
  ],
  [
    'node',
    '"main" that does not exist is ignored',
    repo(['index.js'], { 'package.json': pkg({ main: 'gone.js' }) }),
    [],
    'node index.js',
  ],
  ['node', 'server.js before index.js', repo(['index.js', 'server.js']), [], 'node server.js'],
  ['node', 'no package.json, app.js', repo(['app.js']), [], 'node app.js'],
  // python
  [
    'python',
    'requirements.txt and app.py',
    repo(['requirements.txt', 'app.py', 'main.py']),
    [pipInstall],
    'python3 app.py',
  ],
  ['python', 'main.py', repo(['main.py', 'README.md']), [], 'python3 main.py'],
  ['python', 'server.py', repo(['server.py']), [], 'python3 server.py'],
  [
    'python',
    'a package with __main__.py',
    repo(['shop/', 'shop/__init__.py', 'shop/__main__.py', 'requirements.txt']),
    [pipInstall],
    'python3 -m shop',
  ],
  // php
  [
    'php',
    'public/ is the document root',
    repo(['public/', 'public/index.php', 'src/']),
    [],
    'php -S "0.0.0.0:$PORT" -t public',
  ],
  ['php', 'without public/, the repository is', repo(['index.php']), [], 'php -S "0.0.0.0:$PORT" -t .'],
  [
    'php',
    'composer.json installs with composer',
    repo(['composer.json', 'composer.lock', 'public/']),
    [composerInstall],
    'php -S "0.0.0.0:$PORT" -t public',
  ],
  ['php', 'an empty repository is still served', repo([]), [], 'php -S "0.0.0.0:$PORT" -t .'],
  // ruby
  [
    'ruby',
    'Gemfile and config.ru',
    repo(['Gemfile', 'Gemfile.lock', 'config.ru', 'app.rb']),
    ['bundle install --jobs 4'],
    'bundle exec rackup -p "$PORT" -o 0.0.0.0',
  ],
  ['ruby', 'config.ru without a Gemfile', repo(['config.ru']), [], 'rackup -p "$PORT" -o 0.0.0.0'],
  [
    'ruby',
    'app.rb with a Gemfile',
    repo(['Gemfile', 'app.rb']),
    ['bundle install --jobs 4'],
    'bundle exec ruby app.rb',
  ],
  ['ruby', 'plain app.rb', repo(['app.rb']), [], 'ruby app.rb'],
  // go
  ['go', 'a module', repo(['go.mod', 'go.sum', 'main.go', 'internal/']), [goBuild], './gasper-app'],
  ['go', '.go files without go.mod', repo(['main.go', 'main_test.go']), [`GO111MODULE=off ${goBuild}`], './gasper-app'],
  // rust
  [
    'rust',
    'a package: its name',
    repo(['Cargo.lock', 'src/', 'src/main.rs'], { 'Cargo.toml': '[package]\nname = "hello-web"\nversion = "0.1.0"\n' }),
    ['cargo build --release --offline'],
    './target/release/hello-web',
  ],
  [
    'rust',
    'one [[bin]] named otherwise',
    repo(['src/'], { 'Cargo.toml': '[package]\nname = "pkg"\n\n[[bin]]\nname = "server"\npath = "src/server.rs"\n' }),
    ['cargo build --release --offline'],
    './target/release/server',
  ],
  // static
  ['static', 'files are served from the repository root', repo(['index.html', 'package.json']), [], staticRoot],
  ['static', 'an empty repository', repo([]), [], staticRoot],
  [
    'static',
    'dist/ is the document root',
    repo(['dist/', 'dist/index.html', 'package.json', '.env']),
    [],
    'gasper-static dist',
  ],
  [
    'static',
    'public/ before dist/, build/ and _site/',
    repo(['_site/', 'build/', 'dist/', 'public/']),
    [],
    'gasper-static public',
  ],
  ['static', 'build/ before _site/', repo(['_site/', 'build/']), [], 'gasper-static build'],
  ['static', '_site/ (Jekyll)', repo(['_site/', '_config.yml']), [], 'gasper-static _site'],
  ['static', 'a file named dist is not a directory', repo(['dist', 'index.html']), [], staticRoot],
];

/** runtime, what the repository holds → the problem when `run` is omitted. */
const unrunnable: [string, string, RepoListing, RegExp][] = [
  [
    'node',
    'package.json without start, main or a known file',
    repo([], { 'package.json': pkg({ name: 'x' }) }),
    /start script in package\.json/,
  ],
  ['node', 'nothing at all', repo(['README.md']), /node conventions found nothing/],
  [
    'python',
    'no known script, two packages with __main__.py',
    repo(['a/', 'a/__main__.py', 'b/', 'b/__main__.py']),
    /app\.py, main\.py/,
  ],
  ['ruby', 'a Gemfile and nothing to run', repo(['Gemfile', 'lib/']), /config\.ru, or app\.rb/],
  ['go', 'only tests', repo(['main_test.go']), /main package/],
  ['rust', 'no Cargo.toml', repo(['main.rs']), /a Cargo\.toml with a \[package\]/],
  [
    'rust',
    'two binaries, no default-run',
    repo([], { 'Cargo.toml': '[package]\nname = "p"\n[[bin]]\nname = "a"\n[[bin]]\nname = "b"\n' }),
    /2 \[\[bin\]\] targets \(a, b\).*Procfile/,
  ],
  ['rust', 'a workspace root', repo([], { 'Cargo.toml': '[workspace]\nmembers = ["a"]\n' }), /names no \[package\]/],
];

describe('planConventions', () => {
  it('has conventions for every runtime', () => {
    for (const runtime of runtimeNames) expect(() => planConventions(runtime, repo([]), { run: 'x' })).not.to.throw();
    expect(runtimeNames).to.include.members(['node', 'python', 'static', 'php', 'ruby', 'go', 'rust']);
  });

  describe('defaults by repository layout (no build, no run given)', () => {
    for (const [runtime, what, listing, build, run] of layouts) {
      it(`${runtime}: ${what} → build [${build.join(', ')}], run ${run}`, () => {
        const plan = planConventions(runtime, listing, {});
        expect(plan.build.commands).to.deep.equal(build);
        expect(plan.run.command).to.equal(run);
        expect(plan.build.reason).to.be.a('string').and.not.equal('');
        expect(plan.run.reason).to.be.a('string').and.not.equal('');
      });
    }
  });

  describe('a repository with nothing to run fails with what to add', () => {
    it("names the app's own command to set one", () => {
      expect(() => planConventions('node', repo([], { 'package.json': pkg({ main: 'index.js' }) }), {}, 'todo'))
        .to.throw(ConventionError)
        .with.property('message')
        .that.includes('gasper apps update todo --run \'<command>\', or PATCH /apps/todo {"run": …}');
    });
    for (const [runtime, what, listing, hint] of unrunnable) {
      it(`${runtime}: ${what}`, () => {
        expect(() => planConventions(runtime, listing, {}))
          .to.throw(ConventionError, hint)
          .with.property('message')
          .that.matches(/Procfile/);
      });
    }
  });

  it('reports a package.json that is not a JSON object', () => {
    for (const text of ['{"scripts": ', '[1]', 'null']) {
      expect(() => planConventions('node', repo(['server.js'], { 'package.json': text }), {})).to.throw(
        ConventionError,
        /package\.json is not a JSON object/,
      );
    }
  });

  describe('Procfile', () => {
    const procfile = 'release: ./migrate\nweb: node web.js --port $PORT\nworker: node worker.js\n';
    for (const runtime of runtimeNames) {
      it(`its web process overrides the ${runtime} default`, () => {
        const plan = planConventions(
          runtime,
          repo(['app.py', 'server.js', 'config.ru', 'go.mod'], { Procfile: procfile }),
          {},
        );
        expect(plan.run).to.deep.equal({ command: 'node web.js --port $PORT', reason: 'Procfile web process' });
      });
    }

    it('lists its process types, release left out, web being the run command', () => {
      expect(
        planConventions('node', repo(['package.json'], { Procfile: procfile, 'package.json': '{}' }), {}).processes,
      ).to.deep.equal({ web: 'node web.js --port $PORT', worker: 'node worker.js' });
    });

    it('without a web process, the app has none (the Procfile lists the process types)', () => {
      const plan = planConventions('python', repo(['app.py'], { Procfile: 'worker: python3 worker.py\n' }), {});
      expect(plan.run.command).to.equal('');
      expect(plan.processes).to.deep.equal({ worker: 'python3 worker.py' });
    });

    it('with only a release: entry, the runtime default is the web process', () => {
      const plan = planConventions('python', repo(['app.py'], { Procfile: 'release: ./migrate\n' }), {});
      expect(plan.processes).to.deep.equal({ web: 'python3 app.py' });
    });

    it("an app's own run is its web process beside the Procfile's workers", () => {
      const plan = planConventions('python', repo(['app.py'], { Procfile: 'worker: python3 w.py\n' }), { run: 'x' });
      expect(plan.processes).to.deep.equal({ worker: 'python3 w.py', web: 'x' });
    });

    it('does not change the default build', () => {
      expect(
        planConventions('python', repo(['requirements.txt'], { Procfile: 'web: gunicorn app:app' }), {}).build.commands,
      ).to.deep.equal([pipInstall]);
    });

    it('makes a repository runnable that conventions could not run', () => {
      expect(
        planConventions('ruby', repo(['Gemfile'], { Procfile: 'web: bundle exec puma -p $PORT' }), {}).run.command,
      ).to.equal('bundle exec puma -p $PORT');
    });
  });

  describe('what the app gives wins', () => {
    const listing = repo(['package-lock.json', 'server.js'], {
      'package.json': pkg({ scripts: { start: 'node a.js' } }),
      Procfile: 'web: node b.js',
    });

    it('a given run beats the Procfile and the default', () => {
      expect(planConventions('node', listing, { run: 'node c.js' }).run).to.deep.equal({
        command: 'node c.js',
        reason: 'given by the app',
      });
    });

    it('given build commands replace the default ones', () => {
      expect(planConventions('node', listing, { build: ['npm ci --omit=dev'] }).build.commands).to.deep.equal([
        'npm ci --omit=dev',
      ]);
    });

    it('build: [] means no build at all', () => {
      expect(planConventions('node', listing, { build: [] }).build).to.deep.equal({
        commands: [],
        reason: 'given by the app',
      });
    });

    it('a given run needs nothing to run in the repository', () => {
      expect(planConventions('go', repo([]), { run: './bin/server' }).run.command).to.equal('./bin/server');
    });
  });
});

describe('parseProcfile', () => {
  const cases: [string, string, Record<string, string>][] = [
    ['one process', 'web: npm start', { web: 'npm start' }],
    ['several, CRLF, blank lines', 'web: a\r\n\r\nworker:   b --x  \r\n', { web: 'a', worker: 'b --x' }],
    ['comments are ignored', '# web: old\nweb: new', { web: 'new' }],
    ['colons in the command stay', 'web: php -S 0.0.0.0:$PORT', { web: 'php -S 0.0.0.0:$PORT' }],
    ['a repeated name: the last wins', 'web: a\nweb: b', { web: 'b' }],
    ['no command, no process', 'web:\nweb:   \n', {}],
    ['not a process line', 'hello world\n- web: x', {}],
    ['leading spaces', '  web: x', { web: 'x' }],
  ];
  for (const [what, text, processes] of cases) {
    it(what, () => expect(parseProcfile(text)).to.deep.equal(processes));
  }
});
