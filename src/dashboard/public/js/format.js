// Values from the API in words, for the dashboard's views. Pure: tested in test/dashboard/app-actions.unit.test.ts.

/** `2027-03-01 12:00 UTC` (`12:00:20 UTC` with `seconds`), or an em dash. */
export function shortDate(iso, seconds = false) {
  const date = new Date(String(iso ?? ''));
  if (!iso || Number.isNaN(date.getTime())) return '—';
  return `${date
    .toISOString()
    .slice(0, seconds ? 19 : 16)
    .replace('T', ' ')} UTC`;
}

/** What a change answered, in words: the redeploy it queued (with its job), or that none was needed. */
export function redeployNote(body) {
  if (body?.redeploy === false) return body.changed?.length ? 'applied, no redeploy needed' : 'nothing changed';
  return body?.job?.id ? `redeploy queued (job ${body.job.id})` : 'saved';
}

/** `1.2 s`, `3 min 5 s`, or an em dash. */
export function seconds(ms) {
  if (typeof ms !== 'number') return '—';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** `1.5 MiB` */
export function byteSize(bytes) {
  if (typeof bytes !== 'number') return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let n = bytes;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${unit ? n.toFixed(1) : n} ${units[unit]}`;
}

/** A user's quotas in words (`apps ≤ 3, memory ≤ 2048 MiB`), or `none`. */
export function quotaWords(quotas) {
  const q = quotas ?? {};
  const words = [
    q.maxApps !== undefined && `apps ≤ ${q.maxApps}`,
    q.maxDatabases !== undefined && `databases ≤ ${q.maxDatabases}`,
    q.maxCpu !== undefined && `CPU ≤ ${q.maxCpu}`,
    q.maxMemoryMb !== undefined && `memory ≤ ${q.maxMemoryMb} MiB`,
  ].filter(Boolean);
  return words.length ? words.join(', ') : 'none';
}
