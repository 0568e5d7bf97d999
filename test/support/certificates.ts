import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  dir: string;
  /** The CA's certificate (PEM file): `curl --cacert`. */
  certFile: string;
  keyFile: string;
}

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

/** A private certificate authority made by `openssl` in `dir` (ECDSA P-256: quick to make and to serve). */
export async function makeTestCa(dir: string): Promise<TestCa> {
  const certFile = path.join(dir, 'ca.pem');
  const keyFile = path.join(dir, 'ca.key');
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=Gasper Test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { dir, certFile, keyFile };
}

/**
 * A server certificate signed by `ca` for `names` (the first is its CN), written to
 * `<dir>/<file>.pem` and `<file>.key`.
 */
export async function issueTestCertificate(
  ca: TestCa,
  names: string[],
  file = `leaf-${crypto.randomBytes(4).toString('hex')}`,
  options: { cn?: string } = {},
): Promise<TestCertificate> {
  const base = path.join(ca.dir, file);
  const ext = `${base}.ext`;
  await fs.writeFile(
    ext,
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
  );
  await run('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.csr`,
    '-subj',
    `/CN=${options.cn ?? names[0]}`,
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    `0x${crypto.randomBytes(8).toString('hex')}`,
    '-days',
    '1',
    '-out',
    `${base}.pem`,
    '-extfile',
    ext,
  ]);
  return {
    certFile: `${base}.pem`,
    keyFile: `${base}.key`,
    certPem: await fs.readFile(`${base}.pem`, 'utf8'),
    keyPem: await fs.readFile(`${base}.key`, 'utf8'),
  };
}
