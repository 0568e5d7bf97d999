import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AppDocument } from '../../store/app-document.ts';
import type { WorkerContext } from '../context.ts';
import type { JobReporter } from '../job-reporter.ts';
import { type AppJson, AppJsonError, type AppJsonHealthcheck, appJsonFile, parseAppJson } from './app-json.ts';
import { describeCheck } from './health-verdict.ts';
import type { HealthRules } from './instances.ts';
import { ConventionError } from './conventions.ts';
import { cronEntryProblems } from '../schedules/app-json-cron.ts';

/** What app.json's `env` asks of a deploy, given the variables already set. Pure. */
export interface AppJsonEnvPlan {
  /** Default values for variables nobody sets: in the release's env, not stored in the app's. */
  defaults: Record<string, string>;
  /** Secrets to generate once and store (sealed) in the app's env, so they stay across deploys. */
  generate: string[];
  /** Required variables nobody sets: the deploy fails naming them. */
  missing: string[];
}

/**
 * `present`: the names set by the app (its env), its runtime or linked databases. A default never
 * replaces one of them; a secret is generated only when the app does not have it yet.
 */
export function planAppJsonEnv(appJson: Pick<AppJson, 'env'>, present: ReadonlySet<string>): AppJsonEnvPlan {
  const plan: AppJsonEnvPlan = { defaults: {}, generate: [], missing: [] };
  for (const [name, v] of Object.entries(appJson.env)) {
    if (present.has(name)) continue;
    if (v.generator === 'secret') plan.generate.push(name);
    else if (v.value !== undefined) plan.defaults[name] = v.value;
    else if (v.required) plan.missing.push(name);
  }
  return plan;
}

/** 32 random bytes, hex: what Heroku's `generator: "secret"` gives (64 characters). */
export const generateSecret = () => crypto.randomBytes(32).toString('hex');

/** app.json's contents in the release folder, or undefined without one (a link is not followed). */
export async function readAppJson(dir: string): Promise<string | undefined> {
  const file = path.join(dir, appJsonFile);
  const stat = await fs.lstat(file).catch(() => undefined);
  if (!stat?.isFile()) return undefined;
  if (stat.size > 256 * 1024) throw new ConventionError(`${appJsonFile} is over 256 KiB`);
  return fs.readFile(file, 'utf8');
}

/** What a deploy takes from app.json: the env to add to the release, and the web health check's path. */
export interface AppJsonApplied {
  appJson: AppJson;
  /** Opened values to add to the release's env (defaults and generated secrets). */
  env: Record<string, string>;
  /** The same, sealed, for the release record (a restart or rollback runs with them). */
  sealedEnv: Record<string, string>;
  /** app.json's `healthchecks.web.path`, when the app sets no health check path itself. */
  healthPath?: string;
  /** With it, the rest of app.json's check: body content, probe timeout, attempts. */
  healthRules?: HealthRules;
}

/** The startup check app.json asks for (its path, and the rest), in the probe's terms. Pure. */
export function appJsonStartupCheck(web: AppJsonHealthcheck): { path: string; rules: HealthRules } {
  return {
    path: web.path,
    rules: {
      ...(web.content !== undefined ? { content: web.content } : {}),
      ...(web.timeout !== undefined ? { timeoutMs: Math.round(web.timeout * 1000) } : {}),
      ...(web.attempts !== undefined ? { attempts: web.attempts } : {}),
    },
  };
}

/**
 * Reads, checks and applies the release's app.json: lists the keys it ignores, fails naming a
 * required variable nobody sets, stores generated secrets in the app's env (through the app
 * store's compare-and-set, so nodes deploying the same release at once agree on one value), and
 * returns the defaults. Undefined without an app.json. A malformed one fails the deploy for good.
 */
export async function applyAppJson(
  ctx: WorkerContext,
  doc: AppDocument,
  dir: string,
  present: ReadonlySet<string>,
  report: Pick<JobReporter, 'line'>,
): Promise<AppJsonApplied | undefined> {
  const text = await readAppJson(dir);
  if (text === undefined) return undefined;
  let appJson: AppJson;
  try {
    appJson = parseAppJson(text);
  } catch (err) {
    if (err instanceof AppJsonError) throw new ConventionError(err.message);
    throw err;
  }
  if (appJson.ignored.length) await report.line(`app.json: ignored ${appJson.ignored.join(', ')}`);
  // Checked before anything starts; the schedules themselves are made once the release serves.
  const cron = cronEntryProblems(appJson.cron);
  if (cron.length) throw new ConventionError(cron.join('; '));
  const plan = planAppJsonEnv(appJson, present);
  if (plan.missing.length) {
    const names = plan.missing.join(', ');
    throw new ConventionError(
      `app.json: env ${names} ${plan.missing.length > 1 ? 'are' : 'is'} required and not set: set ${plan.missing.length > 1 ? 'them' : 'it'} with PATCH /apps/${doc.name} {"env": {${plan.missing.map((n) => `"${n}": "…"`).join(', ')}}}`,
    );
  }
  let stored = doc;
  if (plan.generate.length) {
    const updated = await ctx.apps.update(doc.name, (d) => {
      if (d.uid !== doc.uid || d.status === 'deleting') return undefined;
      const fresh = plan.generate.filter((n) => !(n in d.sealedEnv));
      if (fresh.length === 0) return undefined;
      return {
        ...d,
        sealedEnv: { ...d.sealedEnv, ...Object.fromEntries(fresh.map((n) => [n, ctx.secrets.seal(generateSecret())])) },
      };
    });
    stored = updated ?? (await ctx.apps.get(doc.name)) ?? doc;
    await report.line(`app.json: generated secret ${plan.generate.join(', ')} (stored in the app's env)`);
  }
  const generated = Object.fromEntries(
    plan.generate.flatMap((n) => (stored.sealedEnv[n] ? [[n, stored.sealedEnv[n]] as const] : [])),
  );
  const sealedDefaults = Object.fromEntries(Object.entries(plan.defaults).map(([k, v]) => [k, ctx.secrets.seal(v)]));
  if (Object.keys(plan.defaults).length)
    await report.line(`app.json: defaults for ${Object.keys(plan.defaults).join(', ')}`);
  // The app's own health check path (PATCH healthCheck) wins over app.json's whole check.
  const web = appJson.healthchecks.web;
  const health = web && doc.healthCheck?.path === undefined ? appJsonStartupCheck(web) : undefined;
  if (health) await report.line(`app.json: health check ${describeCheck({ path: health.path, ...health.rules })}`);
  else if (web)
    await report.line(
      `app.json: health check not used: the app sets its own (GET ${doc.healthCheck?.path}, PATCH healthCheck)`,
    );
  return {
    appJson,
    env: {
      ...plan.defaults,
      ...Object.fromEntries(Object.entries(generated).map(([k, v]) => [k, ctx.secrets.open(v)])),
    },
    sealedEnv: { ...sealedDefaults, ...generated },
    ...(health ? { healthPath: health.path, healthRules: health.rules } : {}),
  };
}
