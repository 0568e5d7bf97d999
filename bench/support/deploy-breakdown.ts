/**
 * Where a deploy's time goes, from what a user can see: the client's own clock around
 * POST /apps and the first 200, and the job's createdAt/startedAt/finishedAt and timed log lines
 * (`[+0.511s] cloned …`, src/workers/job-reporter.ts).
 */

export interface ClientTimes {
  /** Epoch ms: before POST /apps, after its answer, at the first 200 through the proxy. */
  posted: number;
  accepted: number;
  firstOk: number;
  /** Requests made until the first 200. */
  attempts: number;
}

export interface JobTimes {
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  log: string[];
}

/** A log line's stamp (ms) and a label that is the same in every run: its first words. */
export function parseLogLine(line: string): { at: number; label: string } | undefined {
  const m = /^\[\+(\d+\.\d+)s\] (.*)$/.exec(line);
  if (!m) return undefined;
  // The leading words up to the first that names something of this run (a container, a URL, a count).
  const words: string[] = [];
  for (const word of m[2]!.split(' ')) {
    if (/^[a-z]+:$/i.test(word)) {
      words.push(word.slice(0, -1)); // `build: …`, `run: …`
      break;
    }
    if (/[\d/:(=]/.test(word)) break;
    words.push(word);
  }
  const label = words.join(' ').slice(0, 40);
  return { at: Number(m[1]) * 1000, label };
}

/**
 * Named, consecutive phases in ms: request → job created, queued (created → started), one phase
 * per job log line (the time until that line), the job's end after its last line, and from the
 * job's end to the client's first 200 (negative when the app answered before the job ended).
 */
export function deployPhases(client: ClientTimes, job: JobTimes): [string, number][] {
  const created = Date.parse(job.createdAt);
  const started = job.startedAt ? Date.parse(job.startedAt) : Number.NaN;
  const finished = job.finishedAt ? Date.parse(job.finishedAt) : Number.NaN;
  const phases: [string, number][] = [
    ['client POST → job created', created - client.posted],
    ['job created → picked up', started - created],
  ];
  let previous = 0;
  for (const line of job.log) {
    const parsed = parseLogLine(line);
    if (!parsed) continue;
    phases.push([`job: → ${parsed.label}`, parsed.at - previous]);
    previous = parsed.at;
  }
  phases.push(['job: last line → finished', finished - started - previous]);
  phases.push(['job finished → client first 200', client.firstOk - finished]);
  return phases;
}

/** The median of each phase over rounds, in the order phases first appear. */
export function medianPhases(rounds: [string, number][][]): [string, number, number][] {
  const byName = new Map<string, number[]>();
  for (const round of rounds) {
    // A label seen twice in one round (two instances started) is summed: one phase per name.
    const sums = new Map<string, number>();
    for (const [name, ms] of round) sums.set(name, (sums.get(name) ?? 0) + ms);
    for (const [name, ms] of sums) byName.set(name, [...(byName.get(name) ?? []), ms]);
  }
  return [...byName].map(([name, values]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return [name, sorted[Math.floor((sorted.length - 1) / 2)]!, values.length];
  });
}

/**
 * The median stamp of each log label, ms since the job started: the clone and the container's
 * preparation run side by side, so which one ends last (and by how much) shows here, not in the
 * consecutive phases.
 */
export function medianStamps(logs: string[][]): [string, number][] {
  const byLabel = new Map<string, number[]>();
  for (const log of logs) {
    const seen = new Set<string>();
    for (const line of log) {
      const parsed = parseLogLine(line);
      if (!parsed || seen.has(parsed.label)) continue;
      seen.add(parsed.label);
      byLabel.set(parsed.label, [...(byLabel.get(parsed.label) ?? []), parsed.at]);
    }
  }
  return [...byLabel].map(([label, values]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return [label, sorted[Math.floor((sorted.length - 1) / 2)]!];
  });
}
