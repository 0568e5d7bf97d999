import { expect } from 'chai';
import { hashPassword, scryptParams, verifyPassword } from '../../src/ssh/password.ts';

describe('ssh password hashing (scrypt)', () => {
  const cheap = { N: 1024, r: 8, p: 1 };

  it('verifies the password it hashed, and no other', async () => {
    const hash = await hashPassword('correct horse battery', cheap);
    expect(await verifyPassword('correct horse battery', hash)).to.equal(true);
    expect(await verifyPassword('correct horse batterY', hash)).to.equal(false);
    expect(await verifyPassword('', hash)).to.equal(false);
  });

  it('salts: the same password hashes differently each time, and never appears in the hash', async () => {
    const [a, b] = [await hashPassword('same password', cheap), await hashPassword('same password', cheap)];
    expect(a).to.not.equal(b);
    expect(a).to.not.include('same password');
    expect(a).to.match(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  });

  it('uses memory-hard defaults (32 MiB) and keeps the parameters with the hash', async function () {
    this.timeout(10_000);
    expect(128 * scryptParams.N * scryptParams.r).to.equal(32 * 1024 * 1024);
    const hash = await hashPassword('default cost');
    expect(hash.startsWith(`scrypt$${scryptParams.N}$${scryptParams.r}$${scryptParams.p}$`)).to.equal(true);
    expect(await verifyPassword('default cost', hash)).to.equal(true);
  });

  it('never matches a malformed stored value', async () => {
    for (const stored of ['', 'plain-text', 'scrypt$x$8$1$AAAA$AAAA', 'bcrypt$10$abc', 'scrypt$1024$8$1$$']) {
      expect(await verifyPassword('anything', stored), stored).to.equal(false);
    }
  });
});
