/**
 * Which package manager installs a node app's dependencies (pure: the conventions hand it the
 * repository's layout and package.json). An install that ignored the repository's lockfile would
 * resolve other versions than the ones its authors tested, so:
 *
 * - `packageManager` in package.json (`pnpm@9.12.0`, `yarn@1.22.19`, `npm@10.9.0`) names it;
 * - else the lockfile does: `package-lock.json` or `npm-shrinkwrap.json` npm, `yarn.lock`
 *   Yarn 1, `pnpm-lock.yaml` pnpm (the first found; the others are named in the job log);
 * - else npm, when package.json has dependencies.
 *
 * Yarn 1 is the image's (the official images carry it too; it accepts any 1.x the repository
 * names). pnpm runs through corepack, which the images carry: the version `packageManager` pins,
 * else corepack's own known-good one (COREPACK_DEFAULT_TO_LATEST=0, core/runtimes.ts), fetched
 * from the npm registry by the build. A lockfile is installed as it is (`npm ci`,
 * `--frozen-lockfile`): one that no longer matches package.json fails the build instead of being
 * rewritten. Yarn 2+ is refused with what to do instead: its Plug'n'Play install keeps the
 * packages in a global cache outside the release and runs every script through yarn, which the
 * conventions do not provide.
 */

import { ConventionError } from './convention-error.ts';

export interface NodePackageJson {
  scripts?: Record<string, unknown>;
  packageManager?: unknown;
  dependencies?: Record<string, unknown>;
  devDependencies?: Record<string, unknown>;
  optionalDependencies?: Record<string, unknown>;
}

export interface NodeInstall {
  /** The install command; undefined when there is nothing to install. */
  install?: string;
  /** Why, for the job log (`yarn.lock: Yarn 1`). */
  reason: string;
}

const npmFlags = '--no-audit --no-fund';
const lockfiles = [
  ['package-lock.json', 'npm'],
  ['npm-shrinkwrap.json', 'npm'],
  ['yarn.lock', 'yarn'],
  ['pnpm-lock.yaml', 'pnpm'],
] as const;
type Manager = (typeof lockfiles)[number][1];

const countKeys = (value: unknown) => (value && typeof value === 'object' ? Object.keys(value).length : 0);

/** `packageManager`'s manager and major (`yarn@4.5.0+sha512.…` → yarn, 4); undefined when it names none we run. */
export function declaredManager(field: unknown): { manager: Manager; major: number; text: string } | undefined {
  if (typeof field !== 'string') return undefined;
  const match = /^(npm|yarn|pnpm)@(\d+)\.\d+\.\d+/.exec(field.trim());
  return match ? { manager: match[1] as Manager, major: Number(match[2]), text: field.trim() } : undefined;
}

export function nodeInstall(has: (path: string) => boolean, pkg: NodePackageJson): NodeInstall {
  const found = lockfiles.filter(([file]) => has(file));
  const declared = declaredManager(pkg.packageManager);
  const manager: Manager | undefined = declared?.manager ?? found[0]?.[1];
  const lock = found.find(([, m]) => m === manager)?.[0];
  const ignored = found.filter(([file]) => file !== lock).map(([file]) => file);
  const source = declared ? `packageManager "${declared.text}" in package.json` : lock;
  const note = ignored.length ? `; ${ignored.join(' and ')} ignored: remove ${ignored.length > 1 ? 'them' : 'it'}` : '';
  const reason = (what?: string) => `${[source, what].filter(Boolean).join(': ')}${note}`;
  const dependencies =
    countKeys(pkg.dependencies) + countKeys(pkg.devDependencies) + countKeys(pkg.optionalDependencies) > 0;

  if (manager === 'yarn' && ((declared?.manager === 'yarn' && declared.major >= 2) || has('.yarnrc.yml')))
    throw new ConventionError(
      `${declared ? source : '.yarnrc.yml'} asks for Yarn 2 or later, which Gasper does not install by convention ` +
        "(Plug'n'Play keeps the packages outside the release): add a Dockerfile, or give the app its build and run " +
        'commands (gasper apps update <app> --build … --run …), or use Yarn 1, npm or pnpm',
    );
  if (!lock && !dependencies) return { reason: reason('no dependencies') };
  if (manager === 'yarn')
    return { install: `yarn install${lock ? ' --frozen-lockfile' : ''}`, reason: reason('Yarn 1') };
  if (manager === 'pnpm')
    return {
      install: `corepack pnpm install${lock ? ' --frozen-lockfile' : ''}`,
      reason: reason('pnpm through corepack'),
    };
  if (lock) return { install: `npm ci ${npmFlags}`, reason: reason() };
  return { install: `npm install ${npmFlags}`, reason: reason('package.json has dependencies, no lock file') };
}
