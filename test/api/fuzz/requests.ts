import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { Prng } from '../../support/prng.ts';

/** One generated request, sent byte for byte (test/api/fuzz/raw-http.ts). */
export interface FuzzRequest {
  method: string;
  /** The request target as sent: may hold malformed escapes. */
  target: string;
  headers: [string, string][];
  body?: Buffer;
  /** Sent with `Transfer-Encoding: chunked` instead of a Content-Length. */
  chunked: boolean;
  /** What kind of body it carries, for the summary. */
  kind: string;
}

/** A route as the registry lists it (`/apps/:name`). */
export interface FuzzRoute {
  method: string;
  path: string;
}

/** What the generator may name: tokens, and resources that exist (so some requests reach deep). */
export interface FuzzContext {
  adminToken: string;
  memberToken: string;
  routes: FuzzRoute[];
  apps: string[];
  databases: string[];
  users: string[];
  nodes: string[];
}

/** Path segments that broke, or could break, decoding and lookups. */
const hostileSegments = [
  '%',
  '%%',
  '%zz',
  '%E0%A4%A',
  '%00',
  '%2e%2e',
  '..',
  '.',
  '%2F',
  'a%2Fb',
  '%C0%AF',
  '%ED%A0%80',
  '%F0%9F%98%80',
  '%25',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'me',
  '-',
  '0',
  'r000000',
  'r999999',
  '%20',
  'A',
  'a'.repeat(300),
  '%FF%FE',
  '%u0041',
  '%2',
  'null',
  'undefined',
  'NaN',
  '1e999',
  '~',
  '*',
  ':name',
  '%3Cscript%3E',
  'x'.repeat(5000),
];

const methods = [
  'GET',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PURGE',
  'PROPFIND',
  'MKCOL',
  'LINK',
];

const contentTypes = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-8',
  'application/json; charset=utf-16',
  'application/json; charset=utf-16le',
  'application/json; charset=latin1',
  'application/json; charset=klingon',
  'application/json; charset=',
  'application/json;;',
  'application/json; boundary=x',
  'application/merge-patch+json',
  'application/vnd.api+json',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'multipart/form-data',
  '*/*',
  'application/*',
  'application/octet-stream',
  'garbage',
  '',
  'application/json; charset="utf-8"',
  'APPLICATION/JSON',
  'application/json\t',
];

const encodings = [
  'gzip',
  'deflate',
  'br',
  'identity',
  'snappy',
  'gzip, br',
  'GZIP',
  'x-gzip',
  'compress',
  '',
  'gzip, identity',
];

const queries = [
  'tail=1',
  'tail=-1',
  'tail=abc',
  'tail=1e9',
  'tail=10001',
  'tail=',
  'tail=1&tail=2',
  'tail[]=1',
  'tail[a]=1',
  '__proto__[tail]=1',
  'follow=1',
  'follow=maybe',
  'follow=1&tail=0',
  'probes=1',
  'x=%',
  'tail=%zz',
  'a[b][c][d][e][f]=1',
  'constructor[prototype][x]=1',
  '%=%',
  '&&&',
  '=',
  'tail=0x10',
  'tail=1.5',
  'tail=%00',
];

const hex = (prng: Prng, n = 3) => prng.bytes(n).toString('hex');

/** A JSON text, not always one JSON.stringify would write: huge exponents, lone surrogates, duplicate keys. */
function jsonText(prng: Prng, depth: number): string {
  const roll = prng.int(0, depth > 3 ? 5 : 8);
  switch (roll) {
    case 0:
      return 'null';
    case 1:
      return prng.pick(['true', 'false']);
    case 2:
      return prng.pick([
        '0',
        '-0',
        '1',
        '-1',
        '1.5',
        '1e308',
        '1e999',
        '-1e999',
        '9007199254740993',
        '1e-400',
        '0.1',
        '123456789012345678901234567890',
        String(prng.int(-1e6, 1e6)),
      ]);
    case 3:
    case 4:
      return JSON.stringify(randomString(prng));
    case 5:
      return prng.pick(['"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"a\\nb"', '""', '"__proto__"']);
    case 6: {
      const n = prng.int(0, 4);
      return `[${Array.from({ length: n }, () => jsonText(prng, depth + 1)).join(',')}]`;
    }
    default: {
      const n = prng.int(0, 5);
      const keys = [
        '__proto__',
        'constructor',
        'prototype',
        'name',
        'env',
        'repo',
        'url',
        'instances',
        'build',
        'run',
        'role',
        'engine',
        'quotas',
        'scopes',
        'key',
        'password',
        'release',
        'backup',
        'databases',
        'toString',
        '',
      ];
      return `{${Array.from({ length: n }, () => `${JSON.stringify(prng.chance(0.7) ? prng.pick(keys) : randomString(prng))}:${jsonText(prng, depth + 1)}`).join(',')}}`;
    }
  }
}

function randomString(prng: Prng): string {
  switch (prng.int(0, 6)) {
    case 0:
      return '';
    case 1:
      return 'x'.repeat(prng.int(1, 3000));
    case 2:
      return String.fromCodePoint(
        ...Array.from({ length: prng.int(1, 20) }, () => prng.int(0, 0x10ffff)).filter((c) => c < 0xd800 || c > 0xdfff),
      );
    case 3:
      return prng.pick([
        'file:///etc/passwd',
        'http://127.0.0.1:1/x.git',
        'ssh://%2DoProxyCommand=x/y',
        'git@host:--upload-pack=x',
        'https://u:p@github.com/o/r.git',
        '../../etc',
        'node',
        'postgres',
        'admin',
        'member',
        'read',
        'deploy',
      ]);
    case 4:
      return `fz-${hex(prng)}`;
    case 5:
      return prng.bytes(prng.int(1, 40)).toString('latin1');
    default:
      return hex(prng, prng.int(1, 20));
  }
}

/** An OpenSSH public key line of a fresh ed25519 key (so some ssh-keys requests succeed). */
function sshKey(): string {
  const raw = crypto.generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (b: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(b.length);
    return Buffer.concat([length, b]);
  };
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')} fuzz`;
}

/** A valid body for the route, when it takes one: creates must sometimes succeed. */
function validBody(prng: Prng, route: FuzzRoute, context: FuzzContext): unknown {
  const key = `${route.method.toUpperCase()} ${route.path}`;
  switch (key) {
    case 'POST /apps':
      return {
        name: `fz-${hex(prng)}`,
        repo: { url: prng.pick(['file:///srv/git/demo.git', 'https://github.com/heroku/node-js-getting-started.git']) },
        runtime: prng.pick(['node', 'python', 'static']),
        ...(prng.chance(0.5) ? { env: { A: 'b', PORT_X: '1' } } : {}),
        ...(prng.chance(0.3) ? { instances: prng.int(1, 3) } : {}),
        ...(prng.chance(0.3) ? { build: ['npm ci'], run: 'npm start' } : {}),
      };
    case 'PATCH /apps/:name':
      return prng.pick<unknown>([
        { instances: prng.int(1, 3) },
        { env: { X: hex(prng) } },
        { build: [] },
        { run: 'node server.js' },
        { databases: context.databases.slice(0, 1) },
        { repo: { url: 'file:///srv/git/other.git' } },
      ]);
    case 'POST /apps/:name/rollback':
      return prng.pick<unknown>([{}, { release: 'r000001' }]);
    case 'POST /apps/:name/ssh-keys':
      return { key: sshKey() };
    case 'PUT /apps/:name/ssh-password':
      return { password: `pw-${hex(prng, 8)}` };
    case 'POST /databases':
      return { name: `fzdb-${hex(prng)}`, engine: prng.pick(['postgres', 'mysql', 'redis']) };
    case 'POST /databases/:name/restore':
      return { backup: hex(prng) };
    case 'POST /users':
      return {
        name: `fzu-${hex(prng)}`,
        role: prng.pick(['member', 'admin']),
        ...(prng.chance(0.5) ? { quotas: { maxApps: prng.int(0, 5) } } : {}),
      };
    case 'PATCH /users/:name':
      return { quotas: { maxApps: prng.int(0, 5), maxCpu: 2 } };
    case 'POST /users/:name/tokens':
      return { name: `t-${hex(prng)}`, scopes: [prng.pick(['read', 'deploy', 'admin'])] };
    case 'POST /webhooks/github/:app':
      return {
        ref: 'refs/heads/main',
        after: hex(prng, 20),
        repository: { full_name: 'o/r', pushed_at: prng.int(1, 2e9), clone_url: 'https://github.com/o/r.git' },
      };
    default:
      return prng.chance(0.5) ? {} : undefined;
  }
}

/** A value for one path parameter. */
function paramValue(prng: Prng, param: string, context: FuzzContext): string {
  const known =
    param === 'name' || param === 'app'
      ? [...context.apps, ...context.databases, ...context.users]
      : param === 'id'
        ? context.nodes
        : [];
  const roll = prng.float();
  if (roll < 0.45 && known.length > 0) return prng.pick(known);
  if (roll < 0.55) return prng.pick(['r000001', 'r000002', `fz-${hex(prng)}`, 'me']);
  if (roll < 0.9) return prng.pick(hostileSegments);
  // Random bytes, percent-encoded or raw printable.
  return prng.chance(0.5)
    ? [...prng.bytes(prng.int(1, 12))].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')
    : prng.bytes(prng.int(1, 12)).toString('base64').replace(/[/+=]/g, '_');
}

function targetFor(prng: Prng, route: FuzzRoute, context: FuzzContext): string {
  let path = route.path.replace(/:([a-z]+)/gi, (_, param: string) => paramValue(prng, param, context));
  const roll = prng.float();
  if (roll < 0.04) path += '/';
  else if (roll < 0.07) path = path.replace('/', '//');
  else if (roll < 0.09) path = `${path}/${prng.pick(hostileSegments)}`;
  else if (roll < 0.11)
    path = prng.pick([
      '/',
      '/dashboard/',
      '/dashboard/js/main.js',
      '/dashboard/../package.json',
      '/users/me',
      '/users/me/tokens',
      '/admin/queues/api/queues',
      '/%',
      '/admin/queues/%',
      '/dashboard/%',
      '/*',
      `/${'a/'.repeat(200)}`,
    ]);
  if (prng.chance(0.3)) path += `?${prng.pick(queries)}`;
  return path;
}

function encodeBody(prng: Prng, body: Buffer, headers: [string, string][]): Buffer {
  if (!prng.chance(0.12)) return body;
  const encoding = prng.pick(encodings);
  headers.push(['content-encoding', encoding]);
  // Half the time the body really is so encoded.
  if (prng.chance(0.5)) {
    if (encoding.toLowerCase().includes('gzip')) return zlib.gzipSync(body);
    if (encoding === 'deflate') return zlib.deflateSync(body);
    if (encoding === 'br') return zlib.brotliCompressSync(body);
  }
  return prng.chance(0.5) ? body : zlib.gzipSync(body).subarray(0, prng.int(0, 40));
}

/**
 * The `index`th request of the run with this generator: a route from the registry (or not), a
 * method (mostly the route's), hostile path parameters and queries, a token or none, a body of
 * some kind with a content type, charset and encoding that may not match it.
 */
const creating = [
  'POST /apps',
  'PATCH /apps/:name',
  'POST /databases',
  'POST /users',
  'PATCH /users/:name',
  'POST /users/:name/tokens',
  'POST /apps/:name/ssh-keys',
  'PUT /apps/:name/ssh-password',
];

export function generateRequest(prng: Prng, context: FuzzContext): FuzzRequest {
  // One request in five goes to a route that creates or changes a document: what could be left half-made.
  const writers = context.routes.filter((r) => creating.includes(`${r.method.toUpperCase()} ${r.path}`));
  const route = prng.chance(0.2) && writers.length > 0 ? prng.pick(writers) : prng.pick(context.routes);
  const method = prng.chance(0.75) ? route.method.toUpperCase() : prng.pick(methods);
  const headers: [string, string][] = [];
  const auth = prng.float();
  if (auth < 0.6) headers.push(['authorization', `Bearer ${context.adminToken}`]);
  else if (auth < 0.75) headers.push(['authorization', `Bearer ${context.memberToken}`]);
  else if (auth < 0.85)
    headers.push([
      'authorization',
      prng.pick([
        `Bearer gsp_${hex(prng, 16)}`,
        'Bearer',
        'Basic YWRtaW46YWRtaW4=',
        `Bearer ${context.adminToken} extra`,
        'bearer  x',
        `Bearer ${'a'.repeat(5000)}`,
      ]),
    ]);
  if (prng.chance(0.1)) headers.push(['x-forwarded-for', prng.pick(['1.2.3.4', 'garbage', '::1, 10.0.0.1', ''])]);
  if (route.path.startsWith('/webhooks') || prng.chance(0.05)) {
    headers.push(['x-github-event', prng.pick(['push', 'ping', 'issues', '', 'PUSH'])]);
    if (prng.chance(0.8))
      headers.push([
        'x-hub-signature-256',
        prng.pick([`sha256=${hex(prng, 32)}`, 'sha256=', 'sha1=abc', 'garbage', `sha256=${'z'.repeat(64)}`]),
      ]);
    if (prng.chance(0.8))
      headers.push(['x-github-delivery', prng.pick([crypto.randomUUID(), '', '%', 'x'.repeat(500)])]);
  }
  if (prng.chance(0.05))
    headers.push(['last-event-id', prng.pick(['0-0', '1-1', 'abc', '99999999999999999999-1', '-1'])]);
  if (prng.chance(0.05)) headers.push(['cookie', prng.pick(['gasper_admin=x', 'gasper_admin=%', 'a=b; a=c', '=;=;'])]);
  if (prng.chance(0.05))
    headers.push(['accept', prng.pick(['text/event-stream', 'text/html', '*/*', 'application/xml', ''])]);

  let body: Buffer | undefined;
  let kind = 'none';
  const roll = prng.float();
  if (roll < 0.3) {
    body = undefined;
  } else if (roll < 0.5) {
    kind = 'valid';
    const value = validBody(prng, route, { ...context });
    body = value === undefined ? undefined : Buffer.from(JSON.stringify(value));
  } else if (roll < 0.72) {
    kind = 'mutated';
    const value = (validBody(prng, route, context) ?? {}) as Record<string, unknown>;
    const mutated: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) mutated[JSON.stringify(k)] = JSON.stringify(v);
    for (let i = prng.int(1, 3); i > 0; i--) {
      const keys = Object.keys(mutated);
      const choice = prng.int(0, 2);
      if (choice === 0 && keys.length > 0) delete mutated[prng.pick(keys)];
      else if (choice === 1 && keys.length > 0) mutated[prng.pick(keys)] = jsonText(prng, 1);
      else
        mutated[
          JSON.stringify(
            prng.chance(0.5) ? prng.pick(['__proto__', 'constructor', 'extra', 'name', 'env']) : randomString(prng),
          )
        ] = jsonText(prng, 1);
    }
    body = Buffer.from(
      `{${Object.entries(mutated)
        .map(([k, v]) => `${k}:${v}`)
        .join(',')}}`,
    );
  } else if (roll < 0.86) {
    kind = 'json';
    body = Buffer.from(jsonText(prng, 0));
  } else if (roll < 0.93) {
    kind = 'garbage';
    body = prng.bytes(prng.int(0, 2000));
  } else if (roll < 0.96) {
    kind = 'deep';
    const depth = prng.pick([1000, 10_000, 100_000]);
    body = Buffer.from(
      prng.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
    );
  } else {
    kind = 'oversized';
    const size = prng.chance(0.1) ? 24 * 1024 * 1024 : prng.int(300 * 1024, 2 * 1024 * 1024);
    body = Buffer.concat([Buffer.from('{"name":"'), Buffer.alloc(size, 'x'), Buffer.from('"}')]);
  }
  if (body !== undefined || prng.chance(0.1)) {
    const type = prng.chance(0.7) ? 'application/json' : prng.pick(contentTypes);
    if (type !== '' || prng.chance(0.5)) headers.push(['content-type', type]);
  }
  if (route.path === '/admin/login' && prng.chance(0.5)) {
    headers.push(['content-type', 'application/x-www-form-urlencoded']);
    body = Buffer.from(
      prng.pick([
        `token=${context.adminToken}`,
        'token=%',
        'token=x&token=y',
        'token[a]=b',
        '',
        `token=${'a'.repeat(100_000)}`,
      ]),
    );
    kind = 'form';
  }
  if (body !== undefined && kind !== 'oversized') body = encodeBody(prng, body, headers);
  return {
    method,
    target: targetFor(prng, route, context),
    headers,
    body,
    chunked: body !== undefined && prng.chance(0.2),
    kind,
  };
}
