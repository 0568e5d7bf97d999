/**
 * `app.json` (a subset of Heroku's schema, with Dokku's `healthchecks` and `cron`): what a
 * repository says about its env, processes, health checks, scripts and schedules. Pure: the text in,
 * a checked description out, every rule a row of test/workers/apps/app-json.unit.test.ts.
 *
 * Applied by the deploy (app-json-env.ts): `env` defaults and generated secrets, the web health
 * check (path, content, probe timeout, attempts: health-verdict.ts); `scripts.predeploy` is the
 * release phase (release-phase.ts), `scripts.postdeploy` runs once after the first deploy
 * (postdeploy.ts), `formation` is asked for once (app-json-formation.ts) and `cron` makes
 * schedules (schedules/app-json-cron.ts). Unknown keys are ignored and listed, so the job log can
 * say what Gasper did not use.
 */
import { z } from 'zod';

/** Where it is read, in the release's folder (the repository's, or `repo.path`). */
export const appJsonFile = 'app.json';

/** One variable: a default value, whether the app must set it, or a secret to generate once. */
export interface AppJsonVariable {
  value?: string;
  /** Heroku's default: true for a variable without a value or a generator (the deploy fails without it). */
  required: boolean;
  generator?: 'secret';
  description?: string;
}

/** The web process's startup check (Dokku `healthchecks.web`). */
export interface AppJsonHealthcheck {
  path: string;
  /** Text the answer's body must contain. */
  content?: string;
  /** Seconds one probe may take. */
  timeout?: number;
  /** Probes before the check fails. */
  attempts?: number;
}

export interface AppJson {
  env: Record<string, AppJsonVariable>;
  /** Process type → how many (Heroku `formation`). */
  formation: Record<string, { quantity: number }>;
  healthchecks: { web?: AppJsonHealthcheck };
  scripts: { predeploy?: string; postdeploy?: string };
  cron: { command: string; schedule: string }[];
  /** Keys present and not used (`name`, `addons`, `env.X.foo`…), for the job log. */
  ignored: string[];
}

/** The file is not JSON, or a key breaks the schema: the message names the key. */
export class AppJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppJsonError';
  }
}

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const processType = /^[A-Za-z0-9_-]{1,30}$/;
/** Five or six cron fields, or a macro (`@daily`); the schedules themselves check the rest. */
const cronSchedule = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4,5}\S+)$/;

const text = (what: string, max = 4096) =>
  z.string({ error: `must be ${what}` }).max(max, { error: `must be at most ${max} characters` });

/** A variable's object form (its string form is a default value). */
const variableSchema = z.object({
  value: z
    .string({ error: 'must be a string' })
    .max(32 * 1024)
    .optional(),
  required: z.boolean({ error: 'must be true or false' }).optional(),
  generator: z.literal('secret', { error: 'must be "secret"' }).optional(),
  description: z.string({ error: 'must be a string' }).optional(),
});

const healthcheckSchema = z.object({
  path: text('a path starting with /', 1024).regex(/^\//, { error: 'must start with /' }),
  content: text('a string', 1024).optional(),
  timeout: z
    .number({ error: 'must be a number of seconds' })
    .positive({ error: 'must be positive' })
    .max(600)
    .optional(),
  attempts: z
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(1)
    .max(100)
    .optional(),
});

const usedKeys = {
  top: new Set(['env', 'formation', 'healthchecks', 'scripts', 'cron']),
  variable: new Set(['value', 'required', 'generator', 'description']),
  process: new Set(['quantity']),
  check: new Set(['path', 'content', 'timeout', 'attempts']),
  script: new Set(['predeploy', 'postdeploy']),
  cron: new Set(['command', 'schedule']),
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const unknownKeys = (v: unknown, used: ReadonlySet<string>, at: string) =>
  isObject(v)
    ? Object.keys(v)
        .filter((k) => !used.has(k))
        .map((k) => `${at}${k}`)
    : [];

function fail(path: readonly PropertyKey[], message: string): never {
  throw new AppJsonError(`app.json: ${path.map(String).join('.')} ${message}`);
}

function check<T>(schema: z.ZodType<T>, value: unknown, path: readonly PropertyKey[]): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail([...path, ...issue.path], issue.message);
  }
  return parsed.data;
}

/** Parses and checks `app.json`; throws AppJsonError naming the first key that is wrong. */
export function parseAppJson(source: string): AppJson {
  let raw: unknown;
  try {
    raw = JSON.parse(source);
  } catch (err) {
    throw new AppJsonError(`app.json: not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) throw new AppJsonError('app.json: must be a JSON object');
  const ignored = unknownKeys(raw, usedKeys.top, '');
  const result: AppJson = { env: {}, formation: {}, healthchecks: {}, scripts: {}, cron: [], ignored };

  if (raw.env !== undefined) {
    if (!isObject(raw.env)) fail(['env'], 'must be an object of variable names');
    for (const [name, value] of Object.entries(raw.env)) {
      if (!envName.test(name) || name === '__proto__')
        fail(['env', name], 'is not a variable name (letters, digits and _, not starting with a digit)');
      if (typeof value === 'string') result.env[name] = { value, required: false };
      else {
        if (!isObject(value)) fail(['env', name], 'must be a string or an object');
        const v = check(variableSchema, value, ['env', name]);
        ignored.push(...unknownKeys(value, usedKeys.variable, `env.${name}.`));
        if (v.generator && v.value !== undefined) fail(['env', name], 'has both a value and a generator: give one');
        result.env[name] = {
          ...(v.value !== undefined ? { value: v.value } : {}),
          ...(v.generator ? { generator: v.generator } : {}),
          ...(v.description !== undefined ? { description: v.description } : {}),
          // Heroku: required unless it says otherwise; a value or a generator always satisfies it.
          required: v.required ?? (v.value === undefined && v.generator === undefined),
        };
      }
    }
  }

  if (raw.formation !== undefined) {
    if (!isObject(raw.formation)) fail(['formation'], 'must be an object of process types');
    for (const [type, value] of Object.entries(raw.formation)) {
      if (!processType.test(type)) fail(['formation', type], 'is not a process type (letters, digits, _ and -)');
      const quantity = check(
        z.object(
          {
            quantity: z
              .number({ error: 'must be a whole number' })
              .int({ error: 'must be a whole number' })
              .min(0, { error: 'must be 0 or more' })
              .max(100, { error: 'must be at most 100' }),
          },
          { error: 'must be an object such as {"quantity": 1}' },
        ),
        value,
        ['formation', type],
      ).quantity;
      ignored.push(...unknownKeys(value, usedKeys.process, `formation.${type}.`));
      result.formation[type] = { quantity };
    }
  }

  if (raw.healthchecks !== undefined) {
    if (!isObject(raw.healthchecks)) fail(['healthchecks'], 'must be an object of process types');
    for (const type of Object.keys(raw.healthchecks)) if (type !== 'web') ignored.push(`healthchecks.${type}`);
    const web = raw.healthchecks.web;
    if (web !== undefined) {
      // Dokku's form is a list of checks; the first (the startup check) is the one Gasper runs.
      const list = Array.isArray(web) ? web : [web];
      if (list.length > 0) {
        const first = check(healthcheckSchema, list[0], ['healthchecks', 'web', ...(Array.isArray(web) ? [0] : [])]);
        ignored.push(...unknownKeys(list[0], usedKeys.check, `healthchecks.web${Array.isArray(web) ? '.0' : ''}.`));
        if (list.length > 1) ignored.push(...list.slice(1).map((_, i) => `healthchecks.web.${i + 1}`));
        result.healthchecks.web = first;
      }
    }
  }

  if (raw.scripts !== undefined) {
    if (!isObject(raw.scripts)) fail(['scripts'], 'must be an object');
    // Dokku nests its scripts under `dokku`; a top-level one wins.
    const dokku = isObject(raw.scripts.dokku) ? raw.scripts.dokku : {};
    for (const key of ['predeploy', 'postdeploy'] as const) {
      const [value, path] =
        raw.scripts[key] !== undefined ? [raw.scripts[key], ['scripts', key]] : [dokku[key], ['scripts', 'dokku', key]];
      if (value !== undefined)
        result.scripts[key] = check(text('a command').min(1, { error: 'must not be empty' }), value, path);
    }
    ignored.push(...unknownKeys(raw.scripts, new Set([...usedKeys.script, 'dokku']), 'scripts.'));
    ignored.push(...unknownKeys(dokku, usedKeys.script, 'scripts.dokku.'));
  }

  if (raw.cron !== undefined) {
    if (!Array.isArray(raw.cron)) fail(['cron'], 'must be a list of {"command", "schedule"}');
    raw.cron.forEach((entry, i) => {
      const c = check(
        z.object(
          {
            command: text('a command').min(1, { error: 'must not be empty' }),
            schedule: text('a cron schedule', 200).regex(cronSchedule, {
              error: 'must be a cron schedule ("*/5 * * * *", "@daily")',
            }),
          },
          { error: 'must be an object {"command", "schedule"}' },
        ),
        entry,
        ['cron', i],
      );
      ignored.push(...unknownKeys(entry, usedKeys.cron, `cron.${i}.`));
      result.cron.push(c);
    });
  }
  return result;
}
