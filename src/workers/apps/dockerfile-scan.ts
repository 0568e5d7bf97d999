/**
 * What a Dockerfile may not do on a node that builds for tenants who do not trust each other,
 * checked before the build (pure: table-tested in test/workers/apps/dockerfile-scan.unit.test.ts).
 * The classic builder resolves `FROM`, `COPY --from` and `RUN --mount=from=` against the daemon's
 * local images, and app images have predictable names (`<prefix>-app/<installation>-<app>:<release>`),
 * so a Dockerfile could start from, or copy out of, another tenant's image. And dockerd fetches
 * `ADD <url>` itself, from the host's network namespace (loopback services, the cloud metadata
 * address), not from the build's network.
 */

export interface ScanOptions {
  /** This app's image repository (`<prefix>-app/<installation>-<app>`): its own images may be used. */
  ownRepository: string;
  /** Every app image's repository starts with this (`<prefix>-app/`). */
  appPrefix: string;
  /** The build args given to the build (they override ARG defaults). */
  buildArgs: Record<string, string>;
}

/** One logical instruction: continuation lines joined, comments and blank lines dropped. */
export function dockerfileInstructions(text: string): { keyword: string; args: string }[] {
  let escapeChar = '\\';
  const lines = text.split(/\r?\n/);
  // Parser directives: only at the very top, before any instruction, comment or blank line.
  for (const line of lines) {
    const directive = /^#\s*([a-z]+)\s*=\s*(\S+)\s*$/i.exec(line);
    if (!directive) break;
    if (directive[1]!.toLowerCase() === 'escape') escapeChar = directive[2]!;
  }
  const out: { keyword: string; args: string }[] = [];
  let current = '';
  const continued = new RegExp(`${escapeChar.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}[ \t]*$`);
  for (const raw of lines) {
    const trimmed = raw.trim();
    // Comment and blank lines inside a continuation are dropped, as Docker does.
    if (trimmed.startsWith('#') || trimmed === '') continue;
    // Docker joins a continuation as written: the escape goes, the next line's indentation stays.
    const line = current ? raw : raw.trimStart();
    if (continued.test(line)) {
      current += line.replace(continued, '');
      continue;
    }
    current += line;
    const m = /^(\S+)\s*(.*)$/s.exec(current.trim());
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
    current = '';
  }
  if (current.trim()) {
    const m = /^(\S+)\s*(.*)$/s.exec(current.trim());
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

/**
 * `value` with `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` replaced as Docker does
 * (an unset name is empty), or undefined when it holds a `$` form this does not understand.
 */
export function substitute(value: string, vars: ReadonlyMap<string, string>): string | undefined {
  let unknown = false;
  const replaced = value.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_all, braced: string | undefined, op: string | undefined, word: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare!;
      const set = vars.get(name);
      if (op === ':-') return set ? set : (word ?? '');
      if (op === ':+') return set ? (word ?? '') : '';
      return set ?? '';
    },
  );
  if (replaced.includes('$')) unknown = true;
  return unknown ? undefined : replaced;
}

/** Docker's short forms of Docker Hub name the same local image (`docker.io/x/y` is `x/y`). */
function normalizeImage(ref: string): string {
  return ref.toLowerCase().replace(/^(?:index\.)?docker\.io\//, '');
}

/** Why `ref` (after substitution) may not be used as a base or a `--from` source, or undefined. */
export function imageProblem(
  ref: string,
  options: Pick<ScanOptions, 'ownRepository' | 'appPrefix'>,
): string | undefined {
  const image = normalizeImage(ref);
  if (/^sha256:/.test(image) || /^[0-9a-f]{6,64}$/.test(image))
    return `${ref}: an image id names an image on the node, maybe another app's; name an image by its repository`;
  if (!image.startsWith(normalizeImage(options.appPrefix))) return undefined;
  const repository = image.replace(/@.*$/, '').replace(/:[^/]*$/, '');
  if (repository === normalizeImage(options.ownRepository)) return undefined;
  return `${ref}: another app's image; a Dockerfile may start from or copy out of public images, the runtime images and its own app's images only`;
}

/** A `--flag=value` of an instruction's arguments, the flags before the first word. */
function flagsOf(args: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = args;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s*/i.exec(rest);
    if (!m) break;
    // --mount may appear more than once: the values are kept joined.
    const key = m[1]!.toLowerCase();
    flags.set(key, flags.has(key) ? `${flags.get(key)} ${m[2] ?? ''}` : (m[2] ?? ''));
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

/** The sources of an ADD (every word but the last), in the JSON or the plain form. */
function addSources(rest: string): string[] {
  if (rest.startsWith('[')) {
    try {
      const list = JSON.parse(rest) as unknown;
      if (Array.isArray(list)) return list.slice(0, -1).map(String);
    } catch {
      // Not JSON: Docker reads it as the plain form too.
    }
  }
  return rest.split(/\s+/).filter(Boolean).slice(0, -1);
}

/** The problems of a Dockerfile (empty: it may be built). Each names the instruction. */
export function scanDockerfile(text: string, options: ScanOptions): string[] {
  const problems: string[] = [];
  const args = (defaults: ReadonlyMap<string, string>) => {
    const vars = new Map(defaults);
    for (const name of vars.keys())
      if (Object.hasOwn(options.buildArgs, name)) vars.set(name, options.buildArgs[name]!);
    return vars;
  };
  // ARGs before the first FROM are the only variables FROM sees; a stage adds its own ARGs and ENVs.
  const globalArgs = new Map<string, string>();
  let stageVars: Map<string, string> | undefined;
  const stages: string[] = [];
  const checkSource = (what: string, raw: string, vars: ReadonlyMap<string, string>) => {
    const value = substitute(raw, args(vars));
    if (value === undefined) {
      problems.push(`${what} ${raw}: a variable form the build cannot check; use \${NAME} or \${NAME:-default}`);
      return;
    }
    if (stages.includes(value.toLowerCase()) || /^\d+$/.test(value)) return;
    const problem = imageProblem(value, options);
    if (problem) problems.push(`${what} ${problem}`);
  };
  const declare = (into: Map<string, string>, rest: string) => {
    for (const word of rest.split(/\s+/).filter(Boolean)) {
      const [name, ...value] = word.split('=');
      if (!name) continue;
      // A bare `ARG NAME` in a stage takes the global ARG's default.
      const given = value.length
        ? value.join('=').replace(/^"(.*)"$/, '$1')
        : into === globalArgs
          ? ''
          : (globalArgs.get(name) ?? '');
      into.set(name, substitute(given, into) ?? given);
    }
  };
  const one = (keyword: string, rawArgs: string) => {
    const { flags, rest } = flagsOf(rawArgs);
    const vars = stageVars ?? globalArgs;
    if (keyword === 'ONBUILD') {
      const inner = /^(\S+)\s*(.*)$/s.exec(rest);
      if (inner) one(inner[1]!.toUpperCase(), inner[2]!);
      return;
    }
    if (keyword === 'ARG') declare(vars, rest);
    else if (keyword === 'ENV' && stageVars) {
      // `ENV NAME value` (old form) or `ENV A=1 B=2`.
      const old = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$/.exec(rest);
      if (old && !old[1]!.includes('=')) stageVars.set(old[1]!, old[2]!);
      else declare(stageVars, rest);
    } else if (keyword === 'FROM') {
      const [image, as, name] = rest.split(/\s+/);
      if (image) checkSource('FROM', image, globalArgs);
      if (as?.toLowerCase() === 'as' && name) stages.push(name.toLowerCase());
      // Global ARGs are not visible in a stage unless redeclared: their defaults are, when redeclared bare.
      stageVars = new Map();
    } else if (keyword === 'COPY' && flags.has('from')) {
      checkSource('COPY --from', flags.get('from')!, vars);
    } else if (keyword === 'RUN' && flags.has('mount')) {
      for (const m of flags.get('mount')!.matchAll(/(?:^|[,\s])from=([^,\s]+)/g))
        checkSource('RUN --mount from', m[1]!, vars);
    } else if (keyword === 'ADD') {
      for (const source of addSources(rest)) {
        const value = substitute(source, args(vars));
        if (value === undefined || /^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /^git@/i.test(value))
          problems.push(
            `ADD ${source}: ADD may not fetch URLs (dockerd fetches them outside the build's network); use RUN curl or wget, which run in the build's network`,
          );
      }
      if (flags.has('from')) checkSource('ADD --from', flags.get('from')!, vars);
    }
  };
  for (const { keyword, args: rawArgs } of dockerfileInstructions(text)) one(keyword, rawArgs);
  return problems;
}
