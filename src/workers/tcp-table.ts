/**
 * Parses Linux `/proc/<pid>/net/tcp` and `tcp6` (the connection table of a network namespace):
 * how many connections to `port` are established, i.e. how many requests an instance may still
 * be serving before it is stopped. Pure; unit-tested in test/workers/tcp-table.unit.test.ts.
 */
const ESTABLISHED = '01';

export function establishedOnPort(table: string, port: number): number {
  let count = 0;
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st ...; addresses are HEX_IP:HEX_PORT.
    if (fields.length < 4) continue;
    const local = fields[1]!;
    const localPort = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (localPort === port && fields[3] === ESTABLISHED) count++;
  }
  return count;
}
