import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface NginxOptions {
  /** Prefix directory: nginx.conf, logs/, tmp/ and the pid file go here. */
  dir: string;
  port: number;
  upstreamPort: number;
  workers: number;
  serverName: string;
  /** Terminate TLS with this certificate and key, offering these TLS 1.2 suites. */
  tls?: { certFile: string; keyFile: string; ciphers: string };
  bin?: string;
}

/**
 * The nginx.conf the benchmarks compare Gasper with: `workers` workers proxying to one upstream
 * with kept-alive connections on both hops and the same forwarded headers Gasper's proxy sets.
 * Temp paths and logs stay inside `dir` so nginx runs unprivileged.
 */
export function nginxConf(o: NginxOptions): string {
  const { dir } = o;
  const tls = o.tls
    ? `
    ssl_certificate ${o.tls.certFile};
    ssl_certificate_key ${o.tls.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${o.tls.ciphers};`
    : '';
  return `
daemon off;
worker_processes ${o.workers};
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  upstream app {
    server 127.0.0.1:${o.upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${o.port}${o.tls ? ' ssl' : ''};
    server_name ${o.serverName};${tls}
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
}
`;
}

/** Writes the conf into `dir` and runs nginx in the foreground (daemon off) as a child process. */
export async function startNginx(o: NginxOptions): Promise<ChildProcess> {
  for (const sub of ['logs', 'tmp']) await fs.mkdir(path.join(o.dir, sub), { recursive: true });
  const confPath = path.join(o.dir, 'nginx.conf');
  await fs.writeFile(confPath, nginxConf(o));
  const bin = o.bin ?? process.env.NGINX ?? '/usr/sbin/nginx';
  const child = spawn(bin, ['-p', o.dir, '-c', confPath, '-e', path.join(o.dir, 'logs', 'error.log')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.once('error', (err) => console.error(`cannot start nginx (${bin}): ${err.message}`));
  return child;
}
