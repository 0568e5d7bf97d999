/** `gasper scale` arguments. Pure: tested in test/client/scale-args.unit.test.ts. */

/**
 * `web=2 worker=1` → `{web: 2, worker: 1}`; a bare count (`3`) is `web=3`. Process types are
 * named like Procfile entries (letters, digits, `-`, `_`); counts are whole numbers from 0.
 */
export function parseScaleArgs(args: readonly string[]): Record<string, number> {
  const processes: Record<string, number> = {};
  for (const arg of args) {
    const match = /^(?:([A-Za-z][A-Za-z0-9_-]*)=)?(\d+)$/.exec(arg);
    if (!match) throw new Error(`${arg}: expected TYPE=COUNT, e.g. web=2 worker=1`);
    const type = match[1] ?? 'web';
    if (type in processes) throw new Error(`${type} is given twice`);
    processes[type] = Number(match[2]);
  }
  return processes;
}

/** Whether a 400's fields say the API does not know `field` at all (an API older than the field). */
export function unknownField(fields: Record<string, string> | undefined, field: string): boolean {
  return fields?.[field] === 'unknown field';
}
