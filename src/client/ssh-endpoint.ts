/**
 * Where the CLI reaches the SSH service (`gasper run -it`), and the `ssh` command line it runs.
 * Pure: table-tested in test/client/ssh-endpoint.unit.test.ts.
 */

/** The SSH service's port when nothing says otherwise: GASPER_SSH_PORT's default. */
export const defaultSshPort = 2222;

export interface SshEndpoint {
  host: string;
  port: number;
  /** What said so: shown when the connection fails. */
  source: string;
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`; undefined when it is none of them. */
export function parseSshAddress(text: string): { host: string; port?: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]@/]+))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!match) return undefined;
  const host = match[1] ?? match[2]!;
  if (match[3] === undefined) return { host };
  const port = Number(match[3]);
  return port >= 1 && port <= 65535 ? { host, port } : undefined;
}

/**
 * The SSH endpoint, from the first of: the `--ssh` option, GASPER_SSH, the one saved by
 * `gasper login --ssh`, else the API's host on port 2222 (a single machine: `gasper up` runs the
 * SSH service beside the API). Throws naming the setting that is not an address.
 */
export function resolveSshEndpoint(sources: {
  option?: string;
  env?: string;
  saved?: string;
  apiUrl: string;
}): SshEndpoint {
  const given: [string | undefined, string][] = [
    [sources.option, '--ssh'],
    [sources.env, 'GASPER_SSH'],
    [sources.saved, 'the SSH endpoint saved by `gasper login --ssh`'],
  ];
  for (const [value, source] of given) {
    if (!value) continue;
    const address = parseSshAddress(value);
    if (!address) throw new Error(`${source}: "${value}" is not an SSH endpoint (host or host:port)`);
    return { host: address.host, port: address.port ?? defaultSshPort, source };
  }
  let host: string;
  try {
    host = new URL(sources.apiUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    throw new Error(
      'no SSH endpoint: give --ssh <host[:port]>, set GASPER_SSH, or save one with `gasper login <url> --token <token> --ssh <host[:port]>`',
    );
  }
  return { host, port: defaultSshPort, source: `the API's host (${sources.apiUrl}) and the default port` };
}

/** How `gasper run` asks for a terminal, as `docker run -i -t` does. */
export interface InteractiveMode {
  /** -i: the client's stdin goes to the command. */
  interactive: boolean;
  /** -t: a TTY for the command (forced: `ssh -tt`, so it works whatever the local stdin is). */
  tty: boolean;
}

/** The SSH user name of a one-off container of `app` (ssh/target.ts). */
export const runUser = (app: string) => `${app}.run`;

/**
 * The arguments of `ssh` for a session in a new one-off container of `app`: a forced TTY with
 * `-t`, none otherwise (`-T`); without `-i`, stdin is /dev/null (`-n`). No command: a shell.
 */
export function sshRunArgs(endpoint: SshEndpoint, app: string, mode: InteractiveMode, command?: string): string[] {
  // ssh takes the host after the last @ as it is, an IPv6 address too (no brackets).
  return [
    '-p',
    String(endpoint.port),
    ...(mode.tty ? ['-tt'] : ['-T']),
    ...(mode.interactive ? [] : ['-n']),
    `${runUser(app)}@${endpoint.host}`,
    ...(command === undefined ? [] : [command]),
  ];
}
