import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface GitFixture {
  dir: string;
  /** `file://` URL of the repository (needs GASPER_ALLOW_LOCAL_REPOS). */
  url: string;
  /** Writes the files and commits them on the branch; resolves to the new commit id. */
  commit(files: Record<string, string | Buffer>, message?: string): Promise<string>;
  remove(): Promise<void>;
}

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Gasper Test',
  GIT_AUTHOR_EMAIL: 'test@gasper.invalid',
  GIT_COMMITTER_NAME: 'Gasper Test',
  GIT_COMMITTER_EMAIL: 'test@gasper.invalid',
};

/** A real git repository on disk with a first commit of `files`. */
export async function createGitRepo(files: Record<string, string | Buffer>, branch = 'main'): Promise<GitFixture> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-repo-'));
  const git = (...args: string[]) => run('git', args, { cwd: dir, env: gitEnv });
  await git('init', '-q', '-b', branch);
  const fixture: GitFixture = {
    dir,
    url: `file://${dir}`,
    async commit(next, message = 'update') {
      for (const [name, content] of Object.entries(next)) {
        await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
        await fs.writeFile(path.join(dir, name), content);
      }
      await git('add', '-A');
      await git('commit', '-q', '-m', message);
      return (await git('rev-parse', 'HEAD')).stdout.trim();
    },
    remove: () => fs.rm(dir, { recursive: true, force: true }),
  };
  await fixture.commit(files, 'initial');
  return fixture;
}

/** A node app with no dependencies: answers `<greeting> <GREETING env>` and echoes request headers on /headers. */
export function helloNodeApp(greeting = 'hello'): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'hello', version: '1.0.0', scripts: { start: 'node server.js' } }),
    'server.js': `const http = require('http');
http.createServer((req, res) => {
  if (req.url === '/headers') { res.setHeader('content-type', 'application/json'); return res.end(JSON.stringify(req.headers)); }
  res.end('${greeting} ' + (process.env.GREETING || 'world') + '\\n');
}).listen(process.env.PORT);
`,
  };
}
