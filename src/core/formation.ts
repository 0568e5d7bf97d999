/**
 * Process types and the formation (how many containers of each type run): Heroku's process model.
 * Pure: tested in test/core/formation.unit.test.ts.
 *
 * The formation is desired state on the app (`processes`, and `instances` for `web`, kept for
 * compatibility). Default, as on Heroku: one `web` (or `instances`) when the release has one,
 * zero of every other type until asked for with `PATCH /apps/:name {"processes": {...}}`: a
 * queue worker never starts (and consumes nothing) because a Procfile happens to declare it.
 * The placement (core/app-placement.ts) lists one node per container of every type, `web` first,
 * then the other types by name (`formationOrder`), so placing, reserving room, spreading and
 * failover treat a worker's container exactly as a web instance's.
 */

/** The process type the proxy routes to and checks over HTTP; every other type has no port. */
export const webProcess = 'web';

/** Procfile names (conventions.ts `parseProcfile`), bounded so container names stay short. */
export const processNamePattern = /^[A-Za-z0-9_-]{1,30}$/;

/** Procfile entries that are not process types: `release` runs once per release, in the release phase. */
export const notProcessTypes: ReadonlySet<string> = new Set(['release']);

/** What the formation is read from: an app document, or a create or patch request. */
export interface FormationSource {
  /** The web count (`instances` of the API). */
  instanceCount?: number | undefined;
  /** Counts by type; `web` here wins over `instanceCount`. */
  processes?: Readonly<Record<string, number>> | undefined;
}

/** The desired count of each type named, `web` always included. */
export function desiredFormation(app: FormationSource): Record<string, number> {
  return { ...app.processes, [webProcess]: app.processes?.[webProcess] ?? app.instanceCount ?? 1 };
}

/** The types of a formation in placement order: `web` first, then the others by name; zeros left out. */
export function formationOrder(formation: Readonly<Record<string, number>>): [string, number][] {
  return Object.entries(formation)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => (a === webProcess ? -1 : b === webProcess ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

/** How many containers the formation asks for, all types together (what placement places). */
export function formationTotal(app: FormationSource): number {
  return formationOrder(desiredFormation(app)).reduce((sum, [, n]) => sum + n, 0);
}

/** The process type of each placement index (`['web', 'web', 'worker']`). */
export function processOfSlots(app: FormationSource): string[] {
  return formationOrder(desiredFormation(app)).flatMap(([type, n]) => Array.from({ length: n }, () => type));
}

/**
 * The slots of `type` on `node`: the placement indices holding that type there, then the same
 * plus the placement's length, and so on (core/app-placement.ts `freeSlotsIn`). Slots are unique
 * over the cluster and over types, so container names never collide.
 */
export function processSlots(
  placement: readonly string[],
  app: FormationSource,
  node: string,
  type: string,
): { offsets: number[]; stride: number } {
  const types = processOfSlots(app);
  const offsets = placement.flatMap((n, i) => (n === node && (types[i] ?? webProcess) === type ? [i] : []));
  return { offsets, stride: Math.max(1, placement.length) };
}

/** How many containers of `type` run on `node`. */
export function processShare(placement: readonly string[], app: FormationSource, node: string, type: string): number {
  return processSlots(placement, app, node, type).offsets.length;
}

/** What a release runs: the count of each type it declares, and what the job log says about it. */
export interface ResolvedFormation {
  /** Declared types with their count (zero included), `web` first. */
  counts: Record<string, number>;
  /** For the job log: which types run and how many, which run zero, which were asked for but are not declared. */
  lines: string[];
}

/**
 * The formation of a release: the desired counts of the types it declares (`declared`: its
 * Procfile's, or only `web` without a Procfile). A type asked for but not declared runs nothing
 * (a later release may declare it again); a declared type not asked for runs zero, `web` one.
 */
export function resolveFormation(declared: readonly string[], app: FormationSource): ResolvedFormation {
  const desired = desiredFormation(app);
  const types = [...new Set(declared)].filter((t) => !notProcessTypes.has(t));
  const order = (a: string, b: string) => (a === webProcess ? -1 : b === webProcess ? 1 : a < b ? -1 : a > b ? 1 : 0);
  types.sort(order);
  const counts = Object.fromEntries(types.map((t) => [t, desired[t] ?? 0]));
  const running = types.filter((t) => counts[t]! > 0);
  const idle = types.filter((t) => counts[t] === 0);
  const undeclared = Object.keys(desired)
    .filter((t) => t !== webProcess && !types.includes(t) && desired[t]! > 0)
    .sort(order);
  const lines = [`processes: ${running.length ? running.map((t) => `${t} ×${counts[t]}`).join(', ') : 'none running'}`];
  if (idle.length)
    lines.push(
      `declared but scaled to 0: ${idle.join(', ')} (PATCH /apps/:name {"processes": {"${idle[0]}": 1}} to run ${idle.length > 1 ? 'them' : 'it'})`,
    );
  if (!types.includes(webProcess))
    lines.push('no web process: nothing answers HTTP, the proxy answers 503 "no web process"');
  if (undeclared.length) lines.push(`asked for but not declared by this release: ${undeclared.join(', ')} (none run)`);
  return { counts, lines };
}

/**
 * Whether a release's formation runs a web process (an absent formation: a release from before
 * process types, web only).
 */
export function runsWeb(formation: Readonly<Record<string, number>> | undefined): boolean {
  return formation === undefined || (formation[webProcess] ?? 0) > 0;
}

/** Whether an instance is of the `web` type (the only one the proxy routes to). */
export function isWeb(instance: { process?: string | undefined }): boolean {
  return (instance.process ?? webProcess) === webProcess;
}
