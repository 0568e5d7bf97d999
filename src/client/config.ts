import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Where `gasper login` keeps the server and token: one file, readable by its owner only. */
export interface ClientConfig {
  url: string;
  token: string;
  /** The SSH service, `host[:port]` (`gasper login --ssh`), for `gasper run -it`; unset: the API's host, port 2222. */
  ssh?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'gasper', 'client.json');
}

/** GASPER_URL and GASPER_TOKEN win over the saved login, so scripts and CI need no file. */
export async function loadClientConfig(env: NodeJS.ProcessEnv = process.env): Promise<ClientConfig> {
  const saved = await fs
    .readFile(configPath(env), 'utf8')
    .then((raw) => JSON.parse(raw) as Partial<ClientConfig>)
    .catch(() => ({}) as Partial<ClientConfig>);
  const url = env.GASPER_URL || saved.url;
  const token = env.GASPER_TOKEN || saved.token;
  if (!url || !token)
    throw new Error('not logged in: run `gasper login <url> --token <token>` (or set GASPER_URL and GASPER_TOKEN)');
  return { url: url.replace(/\/+$/, ''), token, ...(saved.ssh ? { ssh: saved.ssh } : {}) };
}

export async function saveClientConfig(config: ClientConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = configPath(env);
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await fs.writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await fs.chmod(file, 0o600);
  return file;
}
