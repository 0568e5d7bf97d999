import crypto from 'node:crypto';
import { expect } from 'chai';
import { findMatchingKey, fingerprintOf, parsePublicKeyLine } from '../../src/ssh/public-key.ts';

// Made by `ssh-keygen -t ed25519 -C dev@laptop`; `ssh-keygen -lf` printed the fingerprint.
const ed25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFKogwHmJV6VdCFOimTeKGreJtqvd1HCRCc26JCFOnIk dev@laptop';
const ed25519Fingerprint = 'SHA256:4f+BaJL2KYcpO9HevhQ6IUBXN//eZB5oZn0MgnvnjGI';

/** An OpenSSH line for an RSA key of `bits`, built from node's key (blob: "ssh-rsa", e, n). */
function rsaLine(bits: number): string {
  const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  const jwk = publicKey.export({ format: 'jwk' });
  const mpint = (b64: string) => {
    let v = Buffer.from(b64, 'base64url');
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return v;
  };
  const str = (v: Buffer) => Buffer.concat([Buffer.from([0, 0, (v.length >> 8) & 0xff, v.length & 0xff]), v]);
  return `ssh-rsa ${Buffer.concat([str(Buffer.from('ssh-rsa')), str(mpint(jwk.e!)), str(mpint(jwk.n!))]).toString('base64')} rsa@host`;
}

describe('parsePublicKeyLine', () => {
  it('parses an OpenSSH line: type, comment, blob, and the fingerprint ssh-keygen prints', () => {
    const parsed = parsePublicKeyLine(`  ${ed25519}\n`);
    expect(parsed).to.deep.equal({
      ok: true,
      key: { type: 'ssh-ed25519', comment: 'dev@laptop', fingerprint: ed25519Fingerprint, blob: ed25519.split(' ')[1] },
    });
  });

  it('accepts a line without a comment, and a comment with spaces', () => {
    expect(parsePublicKeyLine(ed25519.split(' ').slice(0, 2).join(' '))).to.deep.include({ ok: true });
    const spaced = parsePublicKeyLine(`${ed25519.split(' ').slice(0, 2).join(' ')} my laptop key`);
    expect(spaced.ok && spaced.key.comment).to.equal('my laptop key');
  });

  it('accepts RSA keys of 2048 bits and refuses shorter ones', () => {
    expect(parsePublicKeyLine(rsaLine(2048))).to.deep.include({ ok: true });
    expect(parsePublicKeyLine(rsaLine(1024))).to.deep.equal({
      ok: false,
      problem: 'is an RSA key shorter than 2048 bits',
    });
  });

  const bad: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['two lines', `${ed25519}\n${ed25519}`, /single line/],
    ['no blob', 'ssh-ed25519', /OpenSSH public key line/],
    ['not base64', 'ssh-ed25519 not*base64', /OpenSSH public key line/],
    ['an unknown type', 'ssh-foo AAAAB3NzaC1yc2E= x', /not a supported public key/],
    ['a type that disagrees with the blob', ed25519.replace('ssh-ed25519', 'ssh-rsa'), /./],
    ['a truncated blob', ed25519.slice(0, 50), /not a supported public key/],
    [
      'a private key',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
      /private key/,
    ],
  ];
  for (const [what, line, problem] of bad) {
    it(`refuses ${what}`, () => {
      const parsed = parsePublicKeyLine(line);
      expect(parsed.ok).to.equal(false);
      if (!parsed.ok) {
        expect(parsed.problem).to.match(problem);
        if (line.length > 20) expect(parsed.problem).to.not.include(line.slice(12, 40));
      }
    });
  }
});

describe('fingerprintOf and findMatchingKey', () => {
  const blob = Buffer.from(ed25519.split(' ')[1]!, 'base64');
  const other = { id: 'other', blob: Buffer.from(rsaLine(2048).split(' ')[1]!, 'base64').toString('base64') };
  const mine = { id: 'mine', blob: blob.toString('base64') };

  it('fingerprints like ssh-keygen (SHA256, base64 without padding)', () => {
    expect(fingerprintOf(blob)).to.equal(ed25519Fingerprint);
  });

  it('finds the registered key that equals the presented blob', () => {
    expect(findMatchingKey([other, mine], blob)).to.equal(mine);
    expect(findMatchingKey([mine, other], blob)).to.equal(mine);
  });

  it('finds nothing for another key, a prefix of a key, or no keys', () => {
    expect(findMatchingKey([other], blob)).to.equal(undefined);
    expect(findMatchingKey([mine], blob.subarray(0, blob.length - 1))).to.equal(undefined);
    expect(findMatchingKey([], blob)).to.equal(undefined);
  });
});
