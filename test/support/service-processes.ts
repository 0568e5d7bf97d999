import net from 'node:net';
import os from 'node:os';
import { spawnGasper, type GasperProcess } from './node-processes.ts';

/**
 * `gasper <command>` with nothing of this process's environment but PATH, a HOME of its own and
 * the CA bundle: the service sees only the variables the test hands it, as on a machine of its own.
 */
export function spawnService(command: string, env: Record<string, string>): GasperProcess {
  const base: Record<string, string> = { PATH: process.env.PATH!, HOME: os.tmpdir() };
  if (process.env.NODE_EXTRA_CA_CERTS) base.NODE_EXTRA_CA_CERTS = process.env.NODE_EXTRA_CA_CERTS;
  return spawnGasper(command, { ...base, ...env }, { inheritEnv: false });
}

/** Resolves once the service logged that it is up; fails with its output if it exits first. */
export async function untilUp(proc: GasperProcess, name: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.output().includes('gasper is up')) {
    if (proc.child.exitCode !== null)
      throw new Error(`gasper ${name} exited with ${proc.child.exitCode}:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`gasper ${name} not up after ${timeoutMs} ms:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A loopback TCP port nobody listens on at the moment of asking. */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
