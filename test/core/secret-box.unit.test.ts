import { expect } from 'chai';
import { createSecretBox, sameDigest, sha256 } from '../../src/core/secret-box.ts';

const key = '11'.repeat(32);
const otherKey = '22'.repeat(32);

/** `sealed` with one bit of its ciphertext flipped (editing base64 text may leave the bytes as they are). */
function tamper(sealed: string): string {
  const parts = sealed.split(':');
  const data = Buffer.from(parts[3]!, 'base64url');
  data[0] = data[0]! ^ 1;
  parts[3] = data.toString('base64url');
  return parts.join(':');
}

describe('secret-box', () => {
  const box = createSecretBox(key);

  for (const plain of ['hunter2', '', 'päss wörd ✓ 🔑', 'x'.repeat(10_000)]) {
    it(`round-trips a ${plain.length}-character secret`, () => {
      const sealed = box.seal(plain);
      expect(sealed).to.match(/^v1:[\w-]+:[\w-]+:[\w-]*$/);
      expect(box.open(sealed)).to.equal(plain);
    });
  }

  it('does not leak the plaintext', () => {
    expect(box.seal('hunter2')).not.to.include('hunter2');
  });

  it('seals the same text differently each time', () => {
    const a = box.seal('same');
    const b = box.seal('same');
    expect(a).not.to.equal(b);
    expect(box.open(a)).to.equal(box.open(b));
  });

  it('refuses tampered ciphertext', () => {
    const sealed = box.seal('hunter2');
    expect(() => box.open(tamper(sealed))).to.throw();
  });

  it('refuses a swapped authentication tag', () => {
    const [v, iv, , data] = box.seal('hunter2').split(':');
    const [, , otherTag] = box.seal('hunter2').split(':');
    expect(() => box.open([v, iv, otherTag, data].join(':'))).to.throw();
  });

  it('refuses a secret sealed with another key', () => {
    const sealed = createSecretBox(otherKey).seal('hunter2');
    expect(() => box.open(sealed)).to.throw();
  });

  for (const garbage of ['hunter2', 'v2:a:b:c', 'v1:a:b', '']) {
    it(`refuses ${JSON.stringify(garbage)} as not sealed`, () => {
      expect(() => box.open(garbage)).to.throw('not a sealed secret');
    });
  }

  for (const bad of ['', 'ab'.repeat(16), 'ab'.repeat(33)]) {
    it(`refuses a key of ${bad.length / 2} bytes`, () => {
      expect(() => createSecretBox(bad)).to.throw('secret key must be 32 bytes');
    });
  }

  describe('sameDigest', () => {
    const digest = sha256('token');
    const cases: [string, string, boolean][] = [
      ['equal digests', sha256('token'), true],
      ['different digests', sha256('other'), false],
      ['a prefix', digest.slice(0, 32), false],
      ['an empty string', '', false],
      ['a non-hex string', 'zz', false],
    ];
    for (const [what, other, expected] of cases) {
      it(`is ${expected} for ${what}`, () => {
        expect(sameDigest(digest, other)).to.equal(expected);
      });
    }
    it('is false for two non-hex strings (they would decode to the same empty buffer)', () => {
      expect(sameDigest('zz', 'yy')).to.equal(false);
      expect(sameDigest('', '')).to.equal(false);
    });
  });
});
