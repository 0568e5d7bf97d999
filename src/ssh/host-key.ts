import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Where the SSH host key lives under the state directory. */
export const hostKeyFile = (stateDir: string) => path.join(stateDir, 'ssh', 'host_ed25519_key');

function sshString(value: Buffer | string): Buffer {
  const body = typeof value === 'string' ? Buffer.from(value) : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

function uint32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

/**
 * An ed25519 private key in the `openssh-key-v1` format (PROTOCOL.key in OpenSSH), unencrypted.
 * ssh2 reads this format but not node's PKCS#8 PEM for ed25519, so node's key is re-framed.
 */
export function ed25519ToOpenSsh(privateKey: crypto.KeyObject, comment = 'gasper'): string {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || !jwk.d || !jwk.x) throw new Error('not an ed25519 private key');
  const seed = Buffer.from(jwk.d, 'base64url');
  const pub = Buffer.from(jwk.x, 'base64url');
  const publicBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = crypto.randomBytes(4).readUInt32BE();
  let section = Buffer.concat([
    uint32(check),
    uint32(check),
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const padding = Buffer.from(Array.from({ length: (8 - (section.length % 8)) % 8 }, (_, i) => i + 1));
  section = Buffer.concat([section, padding]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(publicBlob),
    sshString(section),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g)!;
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/**
 * The service's host key: generated once (ed25519), written with mode 600 and reused on every
 * start, so clients never see "host identification has changed". Two processes starting at
 * once agree on one key: the file is created exclusively and the loser reads the winner's.
 */
export async function ensureHostKey(stateDir: string): Promise<string> {
  const file = hostKeyFile(stateDir);
  const existing = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing) return existing;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  const pem = ed25519ToOpenSsh(privateKey);
  try {
    // Written whole under a temporary name then linked: a reader never sees half a key.
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
    await fs.writeFile(tmp, pem, { mode: 0o600, flag: 'wx' });
    try {
      await fs.link(tmp, file);
    } finally {
      await fs.rm(tmp, { force: true });
    }
    return pem;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fs.readFile(file, 'utf8');
    throw err;
  }
}
