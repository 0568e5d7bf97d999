/**
 * Placement: BENCH_APPS apps (default 200) with 1–3 instances of mixed sizes placed one after the
 * other over BENCH_NODES simulated nodes of mixed sizes (pure functions, no I/O), by
 *  - placeInstances (src/core/place-instances.ts): free resources, spread, and
 *  - the seed's placeApp (bench/support/seed-placement.ts) as the baseline: fewest apps, every instance of
 *    an app on its one node.
 * Prints the time per decision of each (median and p99 over BENCH_ROUNDS rounds), and the
 * balance achieved: the utilisation (busier of CPU and memory) of the least and most used node,
 * their ratio, how many nodes were over-committed and how many apps were refused.
 *
 *   npm run bench:placement
 *   BENCH_APPS=1000 BENCH_NODES=50 npm run bench:placement
 */
import { performance } from 'node:perf_hooks';
import { PlacementError, placeInstances, type CandidateNode } from '../src/core/place-instances.ts';
import { placeApp } from './support/seed-placement.ts';

const appCount = Number(process.env.BENCH_APPS ?? 200);
const nodeCount = Number(process.env.BENCH_NODES ?? 20);
const rounds = Number(process.env.BENCH_ROUNDS ?? 20);
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** A deterministic stream of numbers in [0, 1): the same apps and nodes every run. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface AppRequest {
  cpu: number;
  memoryBytes: number;
  instances: number;
}

const rand = random(42);
const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
// Sizes of a small fleet: a few big machines among smaller ones.
const nodeShapes = Array.from({ length: nodeCount }, (_, i) => ({
  id: `node-${String(i).padStart(2, '0')}`,
  ...pick([
    { cpus: 4, memoryBytes: 16 * GiB },
    { cpus: 8, memoryBytes: 32 * GiB },
    { cpus: 16, memoryBytes: 64 * GiB },
  ]),
}));
const requests: AppRequest[] = Array.from({ length: appCount }, () => ({
  cpu: pick([0.1, 0.25, 0.25, 0.5, 1]),
  memoryBytes: pick([256, 512, 512, 1024, 2048]) * MiB,
  instances: pick([1, 1, 2, 3]),
}));

const freshNodes = (): CandidateNode[] =>
  nodeShapes.map((s) => ({
    id: s.id,
    capacity: { cpus: s.cpus, memoryBytes: s.memoryBytes },
    allocated: { cpu: 0, memoryBytes: 0 },
    alive: true,
    draining: false,
  }));

interface Outcome {
  decisionsMs: number[];
  nodes: CandidateNode[];
  refused: number;
  /** Apps whose instances share one node while another could have taken them. */
  unspread: number;
}

function allocate(nodes: CandidateNode[], ids: readonly string[], request: AppRequest): void {
  for (const id of ids) {
    const n = nodes.find((x) => x.id === id)!;
    n.allocated.cpu += request.cpu;
    n.allocated.memoryBytes += request.memoryBytes;
  }
}

function runResourceAware(): Outcome {
  const nodes = freshNodes();
  const decisionsMs: number[] = [];
  let refused = 0;
  let unspread = 0;
  for (const request of requests) {
    const t0 = performance.now();
    let chosen: string[] | undefined;
    try {
      chosen = placeInstances(nodes, request);
    } catch (err) {
      if (!(err instanceof PlacementError)) throw err;
    }
    decisionsMs.push(performance.now() - t0);
    if (!chosen) refused++;
    else {
      if (new Set(chosen).size < Math.min(chosen.length, nodes.length)) unspread++;
      allocate(nodes, chosen, request);
    }
  }
  return { decisionsMs, nodes, refused, unspread };
}

function runBaseline(): Outcome {
  const nodes = freshNodes();
  const heartbeatAt = new Date().toISOString();
  const placementNodes = nodes.map((n) => ({ id: n.id, heartbeatAt }));
  const load = new Map<string, number>();
  const decisionsMs: number[] = [];
  let unspread = 0;
  for (const request of requests) {
    const t0 = performance.now();
    const id = placeApp(placementNodes, { now: Date.now(), heartbeatTimeoutMs: 30_000, load });
    decisionsMs.push(performance.now() - t0);
    load.set(id, (load.get(id) ?? 0) + 1);
    if (request.instances > 1) unspread++;
    allocate(nodes, Array(request.instances).fill(id), request);
  }
  return { decisionsMs, nodes, refused: 0, unspread };
}

const utilisation = (n: CandidateNode) =>
  Math.max(n.allocated.cpu / n.capacity.cpus, n.allocated.memoryBytes / n.capacity.memoryBytes);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function summarise(name: string, run: () => Outcome) {
  const times: number[] = [];
  let last: Outcome | undefined;
  for (let r = 0; r < rounds; r++) {
    last = run();
    times.push(...last.decisionsMs);
  }
  times.sort((a, b) => a - b);
  const used = last!.nodes.map(utilisation);
  const min = Math.min(...used);
  const max = Math.max(...used);
  return {
    name,
    medianUs: quantile(times, 0.5) * 1000,
    p99Us: quantile(times, 0.99) * 1000,
    min,
    max,
    overcommitted: used.filter((u) => u > 1 + 1e-9).length,
    refused: last!.refused,
    unspread: last!.unspread,
  };
}

// Warm-up, so the first measured round is not the JIT's.
runResourceAware();
runBaseline();
const baseline = summarise('placeApp (seed: fewest apps)', runBaseline);
const aware = summarise('placeInstances (free resources, spread)', runResourceAware);
const totalInstances = requests.reduce((sum, r) => sum + r.instances, 0);
console.log(`${appCount} apps (${totalInstances} instances) over ${nodeCount} nodes, ${rounds} rounds\n`);
for (const s of [baseline, aware]) {
  console.log(s.name);
  console.log(`  time per decision: median ${s.medianUs.toFixed(1)} µs, p99 ${s.p99Us.toFixed(1)} µs`);
  console.log(
    `  utilisation: least used node ${pct(s.min)}, most used ${pct(s.max)}, max/min ${(s.max / Math.max(s.min, 1e-9)).toFixed(2)}; ` +
      `over-committed nodes ${s.overcommitted}; refused apps ${s.refused}; multi-instance apps on one node ${s.unspread}`,
  );
}
console.log(
  `\nratio (placeInstances / placeApp): time per decision ${(aware.medianUs / baseline.medianUs).toFixed(2)}×, ` +
    `max/min utilisation ${(aware.max / aware.min).toFixed(2)} vs ${(baseline.max / baseline.min).toFixed(2)}`,
);
