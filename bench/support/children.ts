import type { ChildProcess } from 'node:child_process';

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Ends a benchmark's child processes: SIGTERM, up to 3 s to exit, then SIGKILL for the rest. */
export async function stopChildren(children: readonly ChildProcess[]): Promise<void> {
  for (const child of children) if (running(child)) child.kill('SIGTERM');
  await Promise.all(
    children.map((child) =>
      running(child)
        ? Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 3000))])
        : undefined,
    ),
  );
  for (const child of children) if (running(child)) child.kill('SIGKILL');
}
