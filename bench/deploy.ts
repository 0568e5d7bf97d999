/**
 * Deploy latency: POST /apps → first HTTP 200 through the proxy, N times, beside the floor
 * measured in the same run: `docker run` of the same image and app to its first HTTP 200.
 * Needs Docker, redis-server and the runtime images (scripts/setup.sh).
 *   npm run bench:deploy            (BENCH_N=20 for more rounds)
 *   BENCH_AS_USER=1 npm run bench:deploy
 *     as a user measures it: `gasper up` in a process of its own, every round's POST and polling
 *     from a separate client (a shell running curl), the raw floor from the same shell and curl;
 *     prints where a deploy's time goes (median per phase, from the job's timed log), and a
 *     second floor, an isolated container's (isolatedScript): its own network, then a hardened run.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import { appUser } from '../src/core/app-user.ts';
import { createGitRepo, helloNodeApp } from '../test/support/git-fixture.ts';
import { percentile, startBenchPlatform, untilBody } from './support/bench-platform.ts';
import {
  type ClientTimes,
  deployPhases,
  type JobTimes,
  medianPhases,
  medianStamps,
} from './support/deploy-breakdown.ts';
import { startPlatformProcess } from './support/platform-process.ts';

const run = promisify(execFile);
const rounds = Number(process.env.BENCH_N ?? 10);
const image = 'gasper/node:latest';

async function rawFloor(appDir: string): Promise<number> {
  const name = `gasper-bench-raw-${crypto.randomBytes(3).toString('hex')}`;
  const started = performance.now();
  await run('docker', [
    'run',
    '-d',
    '--name',
    name,
    '-p',
    '127.0.0.1::8080',
    '-e',
    'PORT=8080',
    '-v',
    `${appDir}:/app`,
    '-w',
    '/app',
    image,
    'sh',
    '-c',
    'node server.js',
  ]);
  try {
    const { stdout } = await run('docker', ['port', name, '8080/tcp']);
    const port = Number(stdout.trim().split('\n')[0]!.split(':').pop());
    await untilBody(port, `127.0.0.1:${port}`, () => true, 30_000);
    return performance.now() - started;
  } finally {
    await run('docker', ['rm', '-f', name]);
  }
}

async function main(): Promise<void> {
  const repo = await createGitRepo(helloNodeApp('bench'));
  const platform = await startBenchPlatform();
  const { call, waitJob, proxyPort } = platform;
  const raw: number[] = [];
  const gasper: number[] = [];
  try {
    // One of each first, untimed: warms the page cache and Docker's image layers for both sides.
    await rawFloor(repo.dir);
    for (let i = 0; i <= rounds; i++) {
      const name = `bench-${i}-${crypto.randomBytes(2).toString('hex')}`;
      const started = performance.now();
      await call('POST', '/apps', { name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' });
      await untilBody(proxyPort, platform.hostOf(name), () => true, 30_000);
      const elapsed = performance.now() - started;
      if (i > 0) gasper.push(elapsed);
      const { job } = await call('DELETE', `/apps/${name}`);
      await waitJob(job!.id);
      // Interleaved so that any drift of the machine affects both series alike.
      if (i > 0) raw.push(await rawFloor(repo.dir));
      process.stderr.write(
        `round ${i}/${rounds}${i === 0 ? ' (warm-up)' : `: gasper ${elapsed.toFixed(0)} ms, raw ${raw.at(-1)!.toFixed(0)} ms`}\n`,
      );
    }
  } finally {
    await platform.close();
    await repo.remove();
  }
  const row = (label: string, values: number[]) =>
    `${label.padEnd(40)} p50 ${percentile(values, 50).toFixed(0).padStart(5)} ms   p90 ${percentile(values, 90).toFixed(0).padStart(5)} ms`;
  console.log(`\ndeploy of a no-dependency node app, ${rounds} rounds`);
  console.log(row('raw floor (docker run → first 200)', raw));
  console.log(row('gasper (POST /apps → first 200 via proxy)', gasper));
  console.log(
    `ratio p50 ${(percentile(gasper, 50) / percentile(raw, 50)).toFixed(2)}×   p90 ${(percentile(gasper, 90) / percentile(raw, 90)).toFixed(2)}×   (goal: p50 ≤ 1.3×)`,
  );
}

/** The client of a round: one shell, curl for every request, its own clock (epoch ms). */
const clientPoll = `
  n=0
  until curl -s -f -o /dev/null --max-time 5 -H "host: $HOST" "http://127.0.0.1:$PORT/"; do
    n=$((n+1)); [ $n -lt 3000 ] || { echo "no 200 within 30 s" >&2; exit 4; }; sleep 0.01
  done
  t2=$(date +%s%3N)`;

const deployScript = `
  t0=$(date +%s%3N)
  body=$(curl -s -f -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "$BODY" "$API/apps") || exit 3
  t1=$(date +%s%3N)
  ${clientPoll}
  echo "$t0 $t1 $t2 $((n+1))"
  echo "$body"`;

const rawScript = `
  t0=$(date +%s%3N)
  docker run -d --name "$NAME" -p 127.0.0.1::8080 -e PORT=8080 -v "$DIR:/app" -w /app ${image} sh -c 'node server.js' >/dev/null || exit 3
  PORT=$(docker port "$NAME" 8080/tcp | head -n1 | sed 's/.*://')
  HOST="127.0.0.1:$PORT"
  t1=$(date +%s%3N)
  ${clientPoll}
  echo "$t0 $t1 $t2 $((n+1))"`;

/**
 * The floor of an isolated container, which is what a Gasper instance is: its own bridge network
 * made first, then `docker run` on it with the instance's limits and hardening. Docker sets up an
 * embedded DNS resolver in every container on a user-defined network (a re-exec of the daemon and
 * iptables rules in the container's namespace), which a start on the default bridge skips: this row
 * shows what the per-app network costs in Docker itself, apart from Gasper.
 */
const isolatedScript = `
  t0=$(date +%s%3N)
  docker network create --label io.gasper.bench=deploy "$NAME" >/dev/null || exit 3
  docker run -d --name "$NAME" --network "$NAME" -p 127.0.0.1::8080 -e PORT=8080 -v "$DIR:/app" -w /app \
    --user ${appUser.uid}:${appUser.gid} --cap-drop ALL --security-opt no-new-privileges --pids-limit 1024 \
    --memory 512m --memory-swap 512m --cpus 1 ${image} sh -c 'node server.js' >/dev/null || exit 3
  PORT=$(docker port "$NAME" 8080/tcp | head -n1 | sed 's/.*://')
  HOST="127.0.0.1:$PORT"
  t1=$(date +%s%3N)
  ${clientPoll}
  echo "$t0 $t1 $t2 $((n+1))"`;

async function clientRun(script: string, env: Record<string, string>): Promise<{ times: ClientTimes; rest: string }> {
  const { stdout } = await run('sh', ['-c', script], { env: { ...process.env, ...env }, maxBuffer: 1 << 20 });
  const [first, ...rest] = stdout.split('\n');
  const [posted, accepted, firstOk, attempts] = first!.trim().split(' ').map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return { times: { posted, accepted, firstOk, attempts }, rest: rest.join('\n') };
}

async function asUser(): Promise<void> {
  const repo = await createGitRepo(helloNodeApp('bench'));
  const platform = await startPlatformProcess();
  const raw: number[] = [];
  const gasper: number[] = [];
  const phases: [string, number][][] = [];
  const logs: string[][] = [];
  const pollAttempts: { gasper: number[]; raw: number[] } = { gasper: [], raw: [] };
  const rawRound = async () => {
    const name = `gasper-bench-raw-${crypto.randomBytes(3).toString('hex')}`;
    try {
      const { times } = await clientRun(rawScript, { NAME: name, DIR: repo.dir });
      pollAttempts.raw.push(times.attempts);
      return times.firstOk - times.posted;
    } finally {
      await run('docker', ['rm', '-f', name]).catch(() => undefined);
    }
  };
  // The isolated floor runs as the app's uid, as an instance does: the fixture's directory must let it read.
  await fs.chmod(repo.dir, 0o755);
  const isolated: number[] = [];
  const isolatedRound = async () => {
    const name = `gasper-bench-isolated-${crypto.randomBytes(3).toString('hex')}`;
    try {
      const { times } = await clientRun(isolatedScript, { NAME: name, DIR: repo.dir });
      return times.firstOk - times.posted;
    } finally {
      await run('docker', ['rm', '-f', name]).catch(() => undefined);
      await run('docker', ['network', 'rm', name]).catch(() => undefined);
    }
  };
  const load = (await fs.readFile('/proc/loadavg', 'utf8').catch(() => '?')).split(' ').slice(0, 3).join(' ');
  try {
    await rawRound(); // warm-up, untimed
    for (let i = 0; i <= rounds; i++) {
      const name = `bench-${i}-${crypto.randomBytes(2).toString('hex')}`;
      const { times, rest } = await clientRun(deployScript, {
        TOKEN: platform.token,
        API: platform.apiUrl,
        BODY: JSON.stringify({ name, repo: { url: repo.url }, runtime: 'node', run: 'node server.js' }),
        HOST: platform.hostOf(name),
        PORT: String(platform.proxyPort),
      });
      const elapsed = times.firstOk - times.posted;
      const jobId = (JSON.parse(rest) as { job: { id: string } }).job.id;
      let job: JobTimes & { state: string };
      for (;;) {
        job = ((await platform.call('GET', `/jobs/${jobId}`)) as { job: JobTimes & { state: string } }).job;
        if (job.state === 'completed' || job.state === 'failed') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (process.env.BENCH_SHOW_LOG === '1')
        process.stderr.write(`${JSON.stringify({ ...times, ...job, result: undefined })}\n`);
      if (i > 0) {
        gasper.push(elapsed);
        phases.push(deployPhases(times, job));
        logs.push(job.log);
        pollAttempts.gasper.push(times.attempts);
      }
      const { job: deletion } = (await platform.call('DELETE', `/apps/${name}`)) as { job: { id: string } };
      for (;;) {
        const { job: d } = (await platform.call('GET', `/jobs/${deletion.id}`)) as { job: { state: string } };
        if (d.state === 'completed' || d.state === 'failed') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (i > 0) raw.push(await rawRound());
      if (i > 0) isolated.push(await isolatedRound());
      process.stderr.write(
        `round ${i}/${rounds}${i === 0 ? ' (warm-up)' : `: gasper ${elapsed.toFixed(0)} ms, raw ${raw.at(-1)!.toFixed(0)} ms, isolated ${isolated.at(-1)!.toFixed(0)} ms`}\n`,
      );
    }
  } finally {
    await platform.close();
    await repo.remove();
  }
  const loadAfter = (await fs.readFile('/proc/loadavg', 'utf8').catch(() => '?')).split(' ').slice(0, 3).join(' ');
  const row = (label: string, values: number[]) =>
    `${label.padEnd(62)} p50 ${percentile(values, 50).toFixed(0).padStart(5)} ms   p90 ${percentile(values, 90).toFixed(0).padStart(5)} ms`;
  console.log(`\ndeploy of a no-dependency node app as a user measures it, ${rounds} rounds`);
  console.log(`load average before ${load}, after ${loadAfter} (${os.availableParallelism()} CPUs)`);
  console.log(row('raw floor (docker run → first 200, curl)', raw));
  console.log(row('gasper up (POST /apps → first 200 via proxy, curl)', gasper));
  console.log(
    `ratio p50 ${(percentile(gasper, 50) / percentile(raw, 50)).toFixed(2)}×   p90 ${(percentile(gasper, 90) / percentile(raw, 90)).toFixed(2)}×   (goal: p50 ≤ 1.2×)`,
  );
  console.log(row('isolated floor (network create + hardened docker run on it)', isolated));
  console.log(
    `gasper / isolated floor p50 ${(percentile(gasper, 50) / percentile(isolated, 50)).toFixed(2)}× (what Gasper adds to what the per-app network costs in Docker)`,
  );
  console.log(
    `client polls until the first 200 (curl, 10 ms apart): median ${percentile(pollAttempts.gasper, 50)} requests (gasper), ${percentile(pollAttempts.raw, 50)} (raw)`,
  );
  console.log('\nwhere a deploy goes (median per phase over rounds; consecutive, so they add up to about the p50):');
  for (const [name, ms] of medianPhases(phases)) console.log(`  ${name.padEnd(56)} ${ms.toFixed(0).padStart(6)} ms`);
  console.log(
    '\njob log lines, median ms since the job started (the clone and the container are prepared side by side):',
  );
  for (const [label, at] of medianStamps(logs)) console.log(`  ${label.padEnd(56)} ${at.toFixed(0).padStart(6)} ms`);
}

await (process.env.BENCH_AS_USER === '1' ? asUser() : main());
