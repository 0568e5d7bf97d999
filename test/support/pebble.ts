import { type ChildProcess, execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Let's Encrypt's test CA for one test file: `pebble` (Debian package `pebble`) and
 * `pebble-challtestsrv` as its DNS, both on free loopback ports. The mock DNS answers 127.0.0.1 for
 * every name (and no AAAA: it would answer ::1), so pebble validates HTTP-01 against
 * 127.0.0.1:`httpPort` only, the proxy under test. Names can be pointed elsewhere with `setA`,
 * for DNS-check tests; nothing ever connects there, since Gasper checks DNS before ordering.
 */
export interface PebbleHandle {
  directoryUrl: string;
  /** PEM of the CA that signed pebble's own HTTPS listener (GASPER_ACME_CA_CERT). */
  listenerCaFile: string;
  /** `127.0.0.1:<port>` of the mock DNS (UDP and TCP). */
  dnsServer: string;
  /** PEM of the root that issued certificates chain to (pebble makes a new one per start). */
  root(): Promise<string>;
  /** Points `domain`'s A records at `addresses` (only) in the mock DNS. */
  setA(domain: string, addresses: string[]): Promise<void>;
  /** Sets the TXT record `name` to `value` (only) in the mock DNS: Gasper's ownership proof. */
  setTxt(name: string, value: string): Promise<void>;
  close(): Promise<void>;
}

const run = promisify(execFile);

/** A loopback port free for both TCP and UDP at the moment of asking. */
async function freeTcpUdpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as net.AddressInfo;
    const socket = dgram.createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    socket.close();
    await new Promise((r) => server.close(r));
    if (udpFree) return port;
  }
  throw new Error('no free TCP+UDP port');
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function until(what: string, check: () => Promise<boolean>, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} not up after 15 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startPebble(options: { httpPort: number; validitySeconds?: number }): Promise<PebbleHandle> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-pebble-'));
  const children: ChildProcess[] = [];
  let output = '';
  const spawnLogged = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (c) => (output = (output + c).slice(-20_000)));
    child.stderr?.on('data', (c) => (output = (output + c).slice(-20_000)));
    children.push(child);
    return child;
  };
  const close = async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    // pebble's HTTPS listener needs a certificate: one self-signed for 127.0.0.1, trusted as its own CA.
    const cert = path.join(dir, 'listener.pem');
    const key = path.join(dir, 'listener.key');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=pebble listener',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    const dnsPort = await freeTcpUdpPort();
    const dnsManagement = await freePort();
    const listen = await freePort();
    const management = await freePort();
    spawnLogged('pebble-challtestsrv', [
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${dnsManagement}`,
    ]);
    const config = path.join(dir, 'pebble.json');
    await fs.writeFile(
      config,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${listen}`,
          managementListenAddress: `127.0.0.1:${management}`,
          certificate: cert,
          privateKey: key,
          httpPort: options.httpPort,
          // TLS-ALPN-01 is never chosen (Gasper asks for HTTP-01): a port nobody listens on.
          tlsPort: await freePort(),
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
          ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
        },
      }),
    );
    // No artificial sleeps before validation, no rejected nonces, and never a reused
    // authorization: every order is validated for real.
    spawnLogged('pebble', ['-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`], {
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_AUTHZREUSE: '0',
    });
    const ca = await fs.readFile(cert, 'utf8');
    const directoryUrl = `https://127.0.0.1:${listen}/dir`;
    await until(
      'pebble',
      async () => (await get(directoryUrl, ca)).status === 200,
      () => output,
    );
    await until(
      'pebble-challtestsrv',
      async () => {
        const res = await fetch(`http://127.0.0.1:${dnsManagement}/clear-a`, {
          method: 'POST',
          body: JSON.stringify({ host: 'probe.test.' }),
        });
        return res.ok;
      },
      () => output,
    );
    return {
      directoryUrl,
      listenerCaFile: cert,
      dnsServer: `127.0.0.1:${dnsPort}`,
      async root() {
        const res = await get(`https://127.0.0.1:${management}/roots/0`, ca);
        if (res.status !== 200) throw new Error(`pebble roots: ${res.status}`);
        return res.body;
      },
      async setA(domain, addresses) {
        // add-a adds to what the name has: clear it first.
        const cleared = await fetch(`http://127.0.0.1:${dnsManagement}/clear-a`, {
          method: 'POST',
          body: JSON.stringify({ host: `${domain}.` }),
        });
        if (!cleared.ok) throw new Error(`challtestsrv clear-a: ${cleared.status}`);
        const res = await fetch(`http://127.0.0.1:${dnsManagement}/add-a`, {
          method: 'POST',
          body: JSON.stringify({ host: `${domain}.`, addresses }),
        });
        if (!res.ok) throw new Error(`challtestsrv add-a: ${res.status}`);
      },
      async setTxt(name, value) {
        const res = await fetch(`http://127.0.0.1:${dnsManagement}/set-txt`, {
          method: 'POST',
          body: JSON.stringify({ host: `${name}.`, value }),
        });
        if (!res.ok) throw new Error(`challtestsrv set-txt: ${res.status}`);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
