import fs from 'node:fs/promises';
import path from 'node:path';
import type { ApiClient } from './api.ts';
import { byteSize } from './format.ts';
import type { CommandKit } from './kit.ts';

/**
 * Writes a backup the API serves to `output` (`-`: stdout), or to the name the API gives (its
 * directory part dropped: the file goes where the user is), else `fallback`; mode 600, since a
 * backup holds the data itself. Shared by `databases download` and `volumes download`.
 */
export async function saveDownload(
  kit: CommandKit,
  client: ApiClient,
  apiPath: string,
  output: string | undefined,
  fallback: string,
): Promise<void> {
  const { data, filename } = await client.download(apiPath);
  if (output === '-') return void process.stdout.write(data);
  const file = output ?? path.basename(filename ?? fallback);
  await fs.writeFile(file, data, { mode: 0o600 });
  kit.print({ file, bytes: data.length }, () => `${file}: ${byteSize(data.length)}`);
}
