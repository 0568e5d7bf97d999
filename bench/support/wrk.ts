import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  requests: number;
  /** Socket errors: connect + read + write + timeout. */
  errors: number;
  non2xx: number;
  seconds: number;
  rps: number;
  /** NaN unless run with `latency`. */
  p50Ms: number;
  p99Ms: number;
}

export interface WrkOptions {
  url: string;
  host: string;
  connections: number;
  seconds: number;
  /** Send `Connection: close`, so every request opens a new connection. */
  close?: boolean;
  /** Ask for the latency distribution (p50, p99). */
  latency?: boolean;
}

/** Whether `wrk` is on PATH. */
export async function hasWrk(): Promise<boolean> {
  try {
    await run('wrk', ['--version']).catch((err: { stdout?: string }) => {
      // wrk --version exits non-zero but prints its banner.
      if (!String(err.stdout ?? '').includes('wrk')) throw err;
    });
    return true;
  } catch {
    return false;
  }
}

/** wrk's duration string ("812.00us", "1.20ms", "2.00s") in milliseconds. */
export function wrkMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const value = Number(m[1]);
  return m[2] === 'us' ? value / 1000 : m[2] === 'ms' ? value : m[2] === 's' ? value * 1000 : value * 60_000;
}

/** wrk's report as numbers. */
export function parseWrk(stdout: string): WrkResult {
  const requestsMatch = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(stdout);
  const requests = Number(requestsMatch?.[1] ?? NaN);
  const elapsed = wrkMs(`${requestsMatch?.[2]}${requestsMatch?.[3]}`) / 1000;
  const errorsMatch = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    requests,
    errors: errorsMatch ? errorsMatch.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
    seconds: elapsed,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? requests / elapsed),
    p50Ms: wrkMs(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1] ?? ''),
    p99Ms: wrkMs(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1] ?? ''),
  };
}

/** One wrk thread for `seconds`; killed if it has not ended 30 s after that. */
export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = ['-t', '1', '-c', String(o.connections), '-d', `${o.seconds}s`, '-H', `Host: ${o.host}`];
  if (o.close) args.push('-H', 'Connection: close');
  if (o.latency) args.push('--latency');
  const { stdout } = await run('wrk', [...args, o.url], { timeout: (o.seconds + 30) * 1000 });
  return parseWrk(stdout);
}
