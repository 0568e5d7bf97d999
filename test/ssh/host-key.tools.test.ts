import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import ssh2 from 'ssh2';
import { ed25519ToOpenSsh, ensureHostKey, hostKeyFile } from '../../src/ssh/host-key.ts';
import { requireTools } from '../support/ssh-client.ts';

const run = promisify(execFile);

describe('SSH host key', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gasper-test-hostkey-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes an ed25519 key in the OpenSSH format that ssh2 and ssh-keygen read, and that signs', async () => {
    await requireTools('ssh-keygen');
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
    const pem = ed25519ToOpenSsh(privateKey);
    const parsed = ssh2.utils.parseKey(pem);
    if (parsed instanceof Error || Array.isArray(parsed)) throw new Error(`ssh2 cannot read it: ${String(parsed)}`);
    expect(parsed.type).to.equal('ssh-ed25519');
    const signature = parsed.sign(Buffer.from('challenge'));
    expect(crypto.verify(null, Buffer.from('challenge'), publicKey, signature as Buffer)).to.equal(true);
    const file = path.join(dir, 'key');
    await fs.writeFile(file, pem, { mode: 0o600 });
    const { stdout } = await run('ssh-keygen', ['-y', '-f', file]);
    expect(stdout.trim().split(' ')[1]).to.equal(parsed.getPublicSSH().toString('base64'));
  });

  it('is generated once with mode 600 and reused', async () => {
    const first = await ensureHostKey(dir);
    expect((await fs.stat(hostKeyFile(dir))).mode & 0o777).to.equal(0o600);
    expect(await ensureHostKey(dir)).to.equal(first);
  });

  it('is one key when several starts race for it', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => ensureHostKey(dir)));
    expect(new Set(keys).size).to.equal(1);
    expect(await fs.readFile(hostKeyFile(dir), 'utf8')).to.equal(keys[0]);
    expect(await fs.readdir(path.dirname(hostKeyFile(dir)))).to.deep.equal([path.basename(hostKeyFile(dir))]);
  });
});
