import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>/repo.git` (no credentials). */
  url: string;
  /** Authorization headers received, in order. */
  authorizations: Array<string | undefined>;
  /** Paths and queries requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * git's smart HTTP (`git http-backend` as a CGI) behind a node server that wants Basic auth with
 * `username:password` (or any credentials when `auth` is undefined), serving a bare copy of
 * `sourceDir`. `beforeAnswer` runs before each answer (a test looks at processes meanwhile).
 */
export async function startGitHttpServer(
  sourceDir: string,
  options: { auth?: { username: string; password: string }; beforeAnswer?: () => Promise<void> } = {},
): Promise<GitHttpServer> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-git-http-'));
  await run('git', ['clone', '-q', '--bare', sourceDir, path.join(root, 'repo.git')]);
  const authorizations: Array<string | undefined> = [];
  const requests: string[] = [];
  const expected = options.auth
    ? `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`
    : undefined;
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(`${url.pathname}${url.search}`);
      authorizations.push(req.headers.authorization);
      await options.beforeAnswer?.();
      if (expected && req.headers.authorization !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('unauthorized\n');
        req.resume();
        return;
      }
      const cgi = spawn('git', ['http-backend'], {
        env: {
          PATH: process.env.PATH,
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: '1',
          PATH_INFO: url.pathname,
          QUERY_STRING: url.search.slice(1),
          REQUEST_METHOD: req.method,
          CONTENT_TYPE: req.headers['content-type'] ?? '',
          HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
          GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
          REMOTE_USER: 'test',
          REMOTE_ADDR: '127.0.0.1',
        },
      });
      req.pipe(cgi.stdin);
      let head: Buffer | undefined = Buffer.alloc(0);
      cgi.stdout.on('data', (chunk: Buffer) => {
        if (!head) return void res.write(chunk);
        head = Buffer.concat([head, chunk]);
        const end =
          head.indexOf('\r\n\r\n') >= 0
            ? head.indexOf('\r\n\r\n') + 4
            : head.indexOf('\n\n') >= 0
              ? head.indexOf('\n\n') + 2
              : -1;
        if (end < 0) return;
        const lines = head.subarray(0, end).toString('latin1').split(/\r?\n/).filter(Boolean);
        let status = 200;
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const [name, ...rest] = line.split(':');
          if (name!.toLowerCase() === 'status') status = Number.parseInt(rest.join(':').trim(), 10);
          else headers[name!] = rest.join(':').trim();
        }
        res.writeHead(status, headers);
        res.write(head.subarray(end));
        head = undefined;
      });
      cgi.on('close', () => res.end());
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/repo.git`,
    authorizations,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
