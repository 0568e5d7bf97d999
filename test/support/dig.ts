import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DigRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

export interface DigResult {
  status: string;
  flags: string[];
  answer: DigRecord[];
  authority: DigRecord[];
  raw: string;
}

/**
 * One query with the real `dig` (Debian dnsutils) to a server on 127.0.0.1, over UDP or TCP,
 * without retries. Fails (never skips) when dig is missing.
 */
export async function dig(port: number, name: string, type = 'A', options: { tcp?: boolean } = {}): Promise<DigResult> {
  const args = [
    '@127.0.0.1',
    '-p',
    String(port),
    '+tries=1',
    '+time=2',
    '+norecurse',
    '+noall',
    '+comments',
    '+answer',
    '+authority',
  ];
  if (options.tcp) args.push('+tcp');
  args.push(name, type);
  let stdout: string;
  try {
    ({ stdout } = await run('dig', args, { timeout: 10_000 }));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string };
    if (e.code === 'ENOENT')
      throw new Error('dig is not installed (apt-get install dnsutils; scripts/setup.sh does it)');
    throw new Error(`dig ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}`);
  }
  const status = /status: (\w+)/.exec(stdout)?.[1];
  if (!status) throw new Error(`dig got no answer for ${name} ${type}:\n${stdout}`);
  const flags = (/;; flags: ([^;]*);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const sections: Record<string, DigRecord[]> = { ANSWER: [], AUTHORITY: [] };
  let current: DigRecord[] | undefined;
  for (const line of stdout.split('\n')) {
    const header = /^;; (\w+) SECTION:/.exec(line);
    if (header) {
      current = sections[header[1]!];
      continue;
    }
    if (!line.trim()) {
      current = undefined;
      continue;
    }
    if (!current || line.startsWith(';')) continue;
    const [recordName, ttl, , recordType, ...data] = line.split(/\s+/);
    current.push({ name: recordName!, ttl: Number(ttl), type: recordType!, data: data.join(' ') });
  }
  return { status, flags, answer: sections.ANSWER!, authority: sections.AUTHORITY!, raw: stdout };
}
