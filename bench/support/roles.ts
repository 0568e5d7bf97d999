import { fork, type ChildProcess } from 'node:child_process';

/**
 * A benchmark file runs as the orchestrator, or, forked with `--role <name> args…`, as one of its
 * parts (upstream, proxy, DNS, load generator) so that every part has a process of its own.
 */

/** Forks `file` in `role`; resolves `message` with the first message it sends (a port, a result). */
export function forkRole<M>(
  file: string,
  role: string,
  args: string[],
  children: ChildProcess[],
  execArgv: string[] = ['--import', 'tsx'],
): { child: ChildProcess; message: Promise<M> } {
  const child = fork(file, ['--role', role, ...args], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const message = new Promise<M>((resolve, reject) => {
    child.once('message', (m) => resolve(m as M));
    child.once('exit', (code) => reject(new Error(`${role} exited with code ${code} before reporting`)));
  });
  return { child, message };
}

/** Forks `file` in `role`; resolves with the port it reports, rejects with the error it reports. */
export async function forkRolePort(
  file: string,
  role: string,
  args: string[],
  children: ChildProcess[],
): Promise<number> {
  const m = await forkRole<{ port?: number; error?: string }>(file, role, args, children).message;
  if (!m.port) throw new Error(`${role} did not start: ${m.error}`);
  return m.port;
}

/**
 * Runs `main`, or in a forked child the role named after `--role` with the arguments after it.
 * A role that fails reports `{ error }`; roles stay up until the orchestrator ends them and go
 * when it does.
 */
export async function runBench(
  main: () => Promise<void>,
  roles: Record<string, (args: string[]) => Promise<void>>,
): Promise<void> {
  const roleIndex = process.argv.indexOf('--role');
  if (roleIndex === -1) return main();
  const role = process.argv[roleIndex + 1]!;
  try {
    const start = roles[role];
    if (!start) throw new Error(`unknown role ${role}`);
    await start(process.argv.slice(roleIndex + 2));
  } catch (err) {
    process.send?.({ error: (err as Error).message });
    process.exitCode = 1;
  }
  process.on('disconnect', () => process.exit(0));
}
