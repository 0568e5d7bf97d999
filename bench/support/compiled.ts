import { ensureCliBuilt } from '../../test/support/cli.ts';

/**
 * A module of the platform as `gasper up` runs it: compiled, from dist/ (`src/proxy/index.ts`
 * → `dist/proxy/index.js`). tsx's output is measurably slower (it keeps function names with a
 * call per closure made, and carries source maps), so benchmarks measure what users run. dist/ is
 * built first when missing or older than a source (`npm run build`, as the tests do).
 */
export async function compiledModule<T>(source: string): Promise<T> {
  // BENCH_FROM_SOURCE=1 measures the sources through tsx instead (what the tests run).
  if (process.env.BENCH_FROM_SOURCE === '1')
    return (await import(new URL(`../../${source}`, import.meta.url).href)) as T;
  await ensureCliBuilt();
  const compiled = source.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js');
  return (await import(new URL(`../../${compiled}`, import.meta.url).href)) as T;
}
