/**
 * Parses Linux `/proc/<pid>/net/tcp` and `tcp6` (the connection table of a network namespace).
 * Pure; unit-tested in test/workers/apps/tcp-table.unit.test.ts.
 */
const ESTABLISHED = '01';
const LISTEN = '0A';

/** Sockets whose local port is `port` and whose state is `state`. */
function countOnPort(table: string, port: number, state: string): number {
  let count = 0;
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st ...; addresses are HEX_IP:HEX_PORT.
    if (fields.length < 4) continue;
    const local = fields[1]!;
    const localPort = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (localPort === port && fields[3] === state) count++;
  }
  return count;
}

/** How many connections to `port` are established: requests an instance may still be serving before it is stopped. */
export function establishedOnPort(table: string, port: number): number {
  return countOnPort(table, port, ESTABLISHED);
}

/** Whether something listens on `port`: the supervisor's quiet check that an instance still serves. */
export function listeningOnPort(table: string, port: number): boolean {
  return countOnPort(table, port, LISTEN) > 0;
}
