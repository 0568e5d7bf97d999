import crypto from 'node:crypto';
import ssh2 from 'ssh2';

/** A public key as Gasper keeps it: the wire blob (base64) and what the API shows of it. */
export interface PublicKeyInfo {
  type: string;
  /** `SHA256:<base64, no padding>` of the key blob, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  comment: string;
  /** The key blob, base64: what an SSH client presents. */
  blob: string;
}

export type ParsedPublicKey = { ok: true; key: PublicKeyInfo } | { ok: false; problem: string };

/** `SHA256:...` fingerprint of a key blob. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Parses one OpenSSH public key line (`ssh-ed25519 AAAA... comment`) with ssh2's parser. Private
 * keys, several keys, other formats and keys whose blob names another type are refused. The
 * problem never quotes the input: a pasted private key must not end up in a response or a log.
 */
export function parsePublicKeyLine(line: string): ParsedPublicKey {
  const trimmed = line.trim();
  if (trimmed === '') return { ok: false, problem: 'is empty' };
  if (trimmed.includes('PRIVATE KEY'))
    return { ok: false, problem: 'is a private key: send the public key (the .pub file)' };
  if (/[\r\n]/.test(trimmed)) return { ok: false, problem: 'must be a single line (one OpenSSH public key)' };
  const match = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/.exec(trimmed);
  if (!match) return { ok: false, problem: 'must be an OpenSSH public key line: "<type> <base64> [comment]"' };
  const parsed = ssh2.utils.parseKey(trimmed);
  if (parsed instanceof Error) return { ok: false, problem: `is not a supported public key (${parsed.message})` };
  if (Array.isArray(parsed) || parsed.isPrivateKey()) return { ok: false, problem: 'must be exactly one public key' };
  const blob = parsed.getPublicSSH();
  // ssh2 keeps the declared type; the blob must agree with it.
  if (parsed.type !== match[1])
    return { ok: false, problem: `declares type ${match[1]} but holds a ${parsed.type} key` };
  if (parsed.type === 'ssh-rsa' && rsaModulusBits(blob) < 2048)
    return { ok: false, problem: 'is an RSA key shorter than 2048 bits' };
  return {
    ok: true,
    key: {
      type: parsed.type,
      fingerprint: fingerprintOf(blob),
      comment: (match[3] ?? '').trim(),
      blob: blob.toString('base64'),
    },
  };
}

/** Bits of an ssh-rsa blob's modulus: string "ssh-rsa", mpint e, mpint n (RFC 4253 §6.6). */
function rsaModulusBits(blob: Buffer): number {
  let offset = 0;
  const next = () => {
    const length = blob.readUInt32BE(offset);
    const value = blob.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
    return value;
  };
  next();
  next();
  const n = next();
  let start = 0;
  while (start < n.length && n[start] === 0) start++;
  if (start === n.length) return 0;
  return (n.length - start - 1) * 8 + (32 - Math.clz32(n[start]!));
}

/**
 * Whether `presented` (the blob a client offers) is one of `registered` (base64 blobs). Each
 * comparison is constant-time and every registered key is compared, so the time taken does not
 * tell which key, or how much of one, matched.
 */
export function findMatchingKey<T extends { blob: string }>(
  registered: readonly T[],
  presented: Buffer,
): T | undefined {
  let found: T | undefined;
  for (const key of registered) {
    const blob = Buffer.from(key.blob, 'base64');
    const equal = blob.length === presented.length && crypto.timingSafeEqual(blob, presented);
    if (equal && !found) found = key;
  }
  return found;
}
