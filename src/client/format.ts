/** Readable terminal output. Pure: tested in test/client/format.unit.test.ts. */

/** A JSON object the API answered. */
// biome-ignore lint/suspicious/noExplicitAny: the CLI prints whatever JSON the API answers, field by field
export type Json = Record<string, any>;

/** Left-aligned columns separated by two spaces; `rows` are already strings. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `[#########-----------]  45%  building (2 commands)` */
export function progressBar(percent: number, step: string, width = 24): string {
  const clamped = Math.max(0, Math.min(100, Math.round(percent)));
  const filled = Math.round((clamped / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(clamped).padStart(3)}%  ${step}`;
}

/** A job's BullMQ state in words, for the moment before its first step says more. */
export function jobStateWords(state: string): string {
  switch (state) {
    case 'waiting':
    case 'prioritized':
      return 'queued: waiting for the node to take it';
    case 'delayed':
      return 'waiting to be tried again';
    case 'active':
      return 'started';
    default:
      return state;
  }
}

/**
 * What the user can do about a failed deploy whose repository was the problem (clone.ts's
 * messages), as a command; undefined for other failures.
 */
export function cloneFailureHint(app: string, error: string): string | undefined {
  if (!error.startsWith('git clone failed: ')) return undefined;
  if (/^git clone failed: branch .* not found in /.test(error))
    return `gasper apps repo ${app} --branch <branch> (or --default-branch) deploys another branch`;
  if (/^git clone failed: repository .* not found /.test(error))
    return `gasper apps repo ${app} --url <url> deploys another repository; a private one needs --token-stdin`;
  if (/^git clone failed: authentication failed for .*this installation's SSH key/.test(error))
    return `gasper apps repo ${app} --url <https URL> --token-stdin < token.txt clones over https with a token`;
  if (/^git clone failed: authentication failed for /.test(error))
    return `gasper apps repo ${app} --token-stdin < token.txt gives the clone an access token`;
  return undefined;
}

/** `"name: problem"` lines for a validation error's fields. */
export function fieldLines(fields: Record<string, string> | undefined): string[] {
  return Object.entries(fields ?? {}).map(([field, problem]) => `  ${field}: ${problem}`);
}

/** `KEY=VALUE` pairs (repeatable option) → an object; the value may contain `=`. */
export function parseEnvPairs(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--env ${pair}: expected KEY=VALUE`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

export function shortCommit(commit: unknown): string {
  return typeof commit === 'string' ? commit.slice(0, 12) : '-';
}

/** `1.5 MiB`, or `-` when there is no number. */
export function byteSize(bytes: unknown): string {
  if (typeof bytes !== 'number') return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${unit ? n.toFixed(1) : n} ${units[unit]}`;
}

/** `1.2 s`, `3 min 5 s`; empty when there is no number. */
export function duration(ms: unknown): string {
  if (typeof ms !== 'number') return '';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
