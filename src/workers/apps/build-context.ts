import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import dockerignoreModule from '@balena/dockerignore';
import tar from 'tar-fs';

// The package is CommonJS (`module.exports = factory`) with types that declare `export default`:
// imported from ESM, the default import is the factory itself, which the types call `.default`.
const dockerignore = dockerignoreModule as unknown as typeof dockerignoreModule.default;

/**
 * The build context of a Dockerfile build, packed here rather than by dockerode, so that the
 * image's labels cost one build step instead of one each. The Engine API's `labels` option makes
 * the classic builder append a LABEL instruction per label, each a container created, committed
 * and removed (six of them took longer than the app's own steps); one `LABEL a=1 b=2 …` at the
 * end of the Dockerfile is one step and labels the same image, the last stage's.
 *
 * The Dockerfile sent is the app's with that line added, under a name of ours at the root of the
 * context, and the `.dockerignore` sent is the app's with that name added: the daemon reads the
 * Dockerfile it is told to use and then drops an ignored Dockerfile from the context, so a
 * `COPY . .` never puts it in the image. As dockerode does, `.git` is never sent and the top-level
 * entries `.dockerignore` excludes are not sent (the daemon applies it to the rest for COPY).
 */
export const generatedDockerfile = '.gasper.Dockerfile';

/** The app's Dockerfile with the labels as one LABEL instruction at the end (pure). */
export function withLabels(text: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${JSON.stringify(key)}=${JSON.stringify(value)}`);
  if (pairs.length === 0) return text;
  return `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}LABEL ${pairs.join(' ')}\n`;
}

/** The `.dockerignore` sent: the app's, plus the generated Dockerfile (pure). */
export function withIgnoredDockerfile(ignore: string): string {
  return `${ignore}${ignore.endsWith('\n') || ignore === '' ? '' : '\n'}${generatedDockerfile}\n`;
}

/**
 * Packs `contextDir` (a real directory, checked by the caller) as an uncompressed tar stream with
 * the labelled Dockerfile; returns the stream and the Dockerfile name to give the daemon.
 * Symlinks inside are packed as symlinks (tar-fs's default), never followed.
 */
export async function packBuildContext(options: {
  contextDir: string;
  dockerfileText: string;
  labels: Record<string, string>;
}): Promise<{ stream: Readable; dockerfile: string; entries: number }> {
  const { contextDir } = options;
  const ignore = await fs.readFile(path.join(contextDir, '.dockerignore'), 'utf8').catch(() => '');
  const keep = dockerignore({ ignorecase: false }).add(ignore).createFilter();
  const ours = new Set(['.git', '.dockerignore', generatedDockerfile]);
  const entries = (await fs.readdir(contextDir)).filter((e) => !ours.has(e) && keep(e));
  const stream = tar.pack(contextDir, {
    entries: [...entries], // tar-fs consumes the array as it walks
    finalize: false,
    finish(pack) {
      pack.entry({ name: generatedDockerfile, mode: 0o644 }, withLabels(options.dockerfileText, options.labels));
      pack.entry({ name: '.dockerignore', mode: 0o644 }, withIgnoredDockerfile(ignore));
      pack.finalize();
    },
  });
  return { stream, dockerfile: generatedDockerfile, entries: entries.length };
}
