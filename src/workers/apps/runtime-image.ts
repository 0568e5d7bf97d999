import fs from 'node:fs/promises';
import path from 'node:path';
import { runtimeCatalog } from '../../core/runtime-catalog.ts';
import {
  chooseRuntimeVersion,
  describeChoice,
  RuntimeVersionError,
  versionFiles,
  type VersionFileContents,
} from '../../core/runtime-versions.ts';
import { runtimeImage } from '../../core/runtimes.ts';
import { ConventionError } from './conventions.ts';

/** Version files are a line or a package.json: more than this is read as its first 256 KiB. */
const maxFileBytes = 256 * 1024;

/** The version files at the top of a fresh clone; symbolic links are never followed. */
export async function readVersionFiles(dir: string): Promise<VersionFileContents> {
  const contents: VersionFileContents = {};
  await Promise.all(
    versionFiles.map(async (name) => {
      const file = path.join(dir, name);
      const stat = await fs.lstat(file).catch(() => undefined);
      if (!stat?.isFile()) return;
      const handle = await fs.open(file, 'r');
      try {
        const buffer = Buffer.alloc(Math.min(maxFileBytes, stat.size));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
        contents[name] = buffer.subarray(0, bytesRead).toString('utf8');
      } finally {
        await handle.close();
      }
    }),
  );
  return contents;
}

/**
 * The image of a release, from the version its repository asks for (core/runtime-versions.ts),
 * and the job log's line saying which and why. A version that cannot be had is a ConventionError:
 * the deploy fails at once with the message, which names the versions there are.
 */
export async function chooseReleaseImage(
  releaseDir: string,
  runtime: string,
  options: { imagePrefix: string; runtimeImages: Record<string, string> },
): Promise<{ image: string; line?: string }> {
  const catalog = runtimeCatalog[runtime];
  let choice: ReturnType<typeof chooseRuntimeVersion>;
  try {
    choice = chooseRuntimeVersion(runtime, await readVersionFiles(releaseDir), runtimeCatalog);
  } catch (err) {
    if (err instanceof RuntimeVersionError) throw new ConventionError(err.message);
    throw err;
  }
  const image = runtimeImage(runtime, options, choice?.version);
  if (!catalog || !choice) return { image };
  return { image, line: `runtime: ${describeChoice(catalog, choice)}, image ${image}` };
}
