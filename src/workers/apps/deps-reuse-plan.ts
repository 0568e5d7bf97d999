/**
 * Whether a release's dependency install can be skipped by reusing what the install filled
 * (node_modules, .local, vendor/bundle, vendor) in an earlier release of the same app on this
 * node (pure: deps-reuse.ts does the I/O).
 *
 * The key is the sha256 of the lockfile's name and bytes and of the runtime image: the same
 * lockfile under another Node major (or Python, Ruby, PHP) can need other native builds, so it
 * installs again. Only a whole build command that is a plain install (`npm ci`, `yarn install`,
 * `pnpm install`, `pip install -r requirements.txt`, `bundle install`, `composer install`, flags
 * only, no package named) is skipped; any other command (`npm run build`, `npm ci && make`) runs
 * as always.
 */

/** One flag, with its value joined by `=` where it has one (`--omit=dev`, `--jobs 4` is two words). */
const flags = String.raw`( +--?[\w-]+(=[\w.-]+)?)*`;

/**
 * The installs a reuse may stand in for: the command (flags only, no package named), the files
 * the install follows (first found wins: a key on a file the install ignores, like npm and a
 * yarn.lock, would reuse what a fresh install would resolve anew) and the directory it fills in
 * the release. pip has no lockfile: the requirements file it is given is the key (pinned
 * versions are what make it one).
 */
interface Installer {
  manager: string;
  command: RegExp;
  lockfiles: (command: string) => string[];
  directory: string;
  /**
   * Files the key covers besides the lockfile: composer.lock's content-hash leaves out the
   * `autoload` section of composer.json, and composer install writes the autoloader from it.
   */
  keyedWith?: string[];
}
const installers: Installer[] = [
  {
    manager: 'npm',
    command: new RegExp(`^npm (ci|install|i)${flags}$`),
    lockfiles: () => ['npm-shrinkwrap.json', 'package-lock.json'],
    directory: 'node_modules',
  },
  {
    manager: 'yarn',
    command: new RegExp(`^yarn( install)?${flags}$`),
    lockfiles: () => ['yarn.lock'],
    directory: 'node_modules',
  },
  {
    // pnpm runs through corepack (node-installs.ts); its node_modules is symlinks into .pnpm
    // inside it, relative, which the copy keeps.
    manager: 'pnpm',
    command: new RegExp(`^(corepack )?pnpm (install|i)${flags}$`),
    lockfiles: () => ['pnpm-lock.yaml'],
    directory: 'node_modules',
  },
  {
    // `--user` installs into /app/.local (PYTHONUSERBASE, core/runtimes.ts), inside the release.
    manager: 'pip',
    command: new RegExp(String.raw`^pip3? install${flags} +-r +([\w./-]+)${flags}$`),
    lockfiles: (command) => [command.match(/ -r +([\w./-]+)/)![1]!],
    directory: '.local',
  },
  {
    // Gems go to /app/vendor/bundle (BUNDLE_PATH, core/runtimes.ts).
    manager: 'bundler',
    command: new RegExp(String.raw`^bundle install( +--jobs +\d+)?${flags}$`),
    lockfiles: () => ['Gemfile.lock'],
    directory: 'vendor/bundle',
  },
  {
    manager: 'composer',
    command: new RegExp(`^composer install${flags}$`),
    lockfiles: () => ['composer.lock'],
    directory: 'vendor',
    keyedWith: ['composer.json'],
  },
];

/** The file in a release directory that records its dependency key, written only after a successful build. */
export const depsMarker = '.gasper-deps-sha256';

const installerOf = (command: string) => installers.find((i) => i.command.test(command.trim()));

/** Whether `command` is a plain dependency install that a reuse may stand in for. */
export function isInstallCommand(command: string): boolean {
  return installerOf(command) !== undefined;
}

/**
 * The build's first plain install command (its index), the lockfiles it follows and the
 * directory it fills, if it has one.
 */
export function installOf(
  commands: string[],
): { index: number; lockfiles: string[]; directory: string; keyedWith?: string[] } | undefined {
  const index = commands.findIndex(isInstallCommand);
  if (index < 0) return undefined;
  const command = commands[index]!.trim();
  const installer = installerOf(command)!;
  return {
    index,
    lockfiles: installer.lockfiles(command),
    directory: installer.directory,
    ...(installer.keyedWith ? { keyedWith: installer.keyedWith } : {}),
  };
}

export interface ReuseCandidate {
  release: string;
  /** The key its marker records; undefined when it has none (no lockfile, failed, older Gasper). */
  key: string | undefined;
}

export type ReusePlan =
  | { reuse: true; from: string; skip: number; directory: string; line: string }
  | { reuse: false; line: string | undefined };

/**
 * The plan for `release`: reuse the newest other release whose key equals `key`, skipping the
 * first install command. `candidates` are the release directories that exist now, so a release
 * the cleanup removed (GASPER_KEEP_RELEASES) is never a source.
 */
export function planDepsReuse(input: {
  release: string;
  commands: string[];
  lockfile: string | undefined;
  key: string | undefined;
  candidates: ReuseCandidate[];
  cache: boolean;
}): ReusePlan {
  const install = installOf(input.commands);
  if (!install || !input.lockfile || !input.key) return { reuse: false, line: undefined };
  const { index: skip, directory } = install;
  const short = input.key.slice(0, 12);
  if (!input.cache) return { reuse: false, line: 'dependencies: cache: false: installing from nothing' };
  const from = input.candidates
    .filter((c) => c.release !== input.release && c.key === input.key)
    .map((c) => c.release)
    .sort()
    .at(-1);
  if (!from)
    return {
      reuse: false,
      line: `dependencies: ${input.lockfile} (sha256 ${short}…) matches no kept release: installing`,
    };
  return {
    reuse: true,
    from,
    skip,
    directory,
    line: `dependencies: unchanged ${input.lockfile} (sha256 ${short}…), reused ${directory} from ${from}: ${input.commands[skip]} skipped`,
  };
}
