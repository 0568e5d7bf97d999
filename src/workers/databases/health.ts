import type { ContainerInspectInfo } from 'dockerode';
import type { DatabaseStatus } from '../../store/database-document.ts';

export interface ObservedDatabase {
  status: Extract<DatabaseStatus, 'running' | 'restarting' | 'down'>;
  restarts: number;
  /** Host port currently published (Docker may pick another one when it restarts the container). */
  port: number | undefined;
  /** Why it is not running, for `lastError`. */
  problem: string | undefined;
}

/** What a database container's inspect data says about its health. Pure. */
export function observeDatabase(
  info: Pick<ContainerInspectInfo, 'State' | 'RestartCount' | 'NetworkSettings'>,
  containerPort: number,
): ObservedDatabase {
  const binding = info.NetworkSettings?.Ports?.[`${containerPort}/tcp`]?.[0];
  const port = binding?.HostPort ? Number(binding.HostPort) : undefined;
  const restarts = info.RestartCount ?? 0;
  const exit = `exited with code ${info.State.ExitCode}${info.State.OOMKilled ? ' (out of memory)' : ''}`;
  if (info.State.Restarting)
    return { status: 'restarting', restarts, port, problem: `${exit}; Docker is restarting it` };
  if (!info.State.Running) return { status: 'down', restarts, port, problem: exit };
  return { status: 'running', restarts, port, problem: undefined };
}
