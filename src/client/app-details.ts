/** What `gasper apps show` prints. Pure: tested in test/client/app-details.unit.test.ts. */
import { shortDate } from './domain-format.ts';
import { duration, type Json, shortCommit } from './format.ts';

/**
 * The app's process types and their counts: `processes` when the API has them
 * (`{web: 2, worker: 1}` or `{web: {instances: 2}}`), else its instances as `web`. The types the
 * current release declares (`formation.running`, its Procfile's) are listed too, at 0 when not
 * asked for, so that a user sees what `gasper scale` can start.
 */
export function processCounts(app: Json): Array<[string, number]> {
  // The API's view: `formation.desired`, the count asked for each process type (web first).
  const formation = app.formation as Json | undefined;
  const desired = formation?.desired;
  if (desired && typeof desired === 'object') {
    const declared = formation?.running && typeof formation.running === 'object' ? Object.keys(formation.running) : [];
    const types = new Set([...Object.keys(desired as Record<string, unknown>), ...declared]);
    return [...types]
      .map((type): [string, number] => [type, Number((desired as Record<string, unknown>)[type] ?? 0)])
      .sort(([a], [b]) => (a === 'web' ? -1 : b === 'web' ? 1 : a.localeCompare(b)));
  }
  if (app.processes && typeof app.processes === 'object') {
    return Object.entries(app.processes as Record<string, unknown>).map(([type, value]) => [
      type,
      typeof value === 'number' ? value : Number((value as Json)?.instances ?? (value as Json)?.count ?? 0),
    ]);
  }
  return [['web', Number(app.scale?.instances ?? app.instances?.length ?? 1)]];
}

/**
 * The app, its linked databases, custom domains (with certificate status), processes and last
 * deploy (the newest release: its status, commit, when and how long; its error if it failed).
 */
export function appDetails(app: Json, domains: Json[] = [], lastDeploy: Json | null = null): string {
  const lines = [
    `${app.name}  (${app.status})`,
    `  url:        ${app.url}`,
    `  repo:       ${app.repo?.url}${app.repo?.branch ? ` (${app.repo.branch})` : ''}${app.repo?.path ? `, folder ${app.repo.path}` : ''}`,
    `  webhook:    ${app.webhook ? `set up ${shortDate(app.webhook.createdAt)}${app.webhook.lastPushAt ? `, last push ${shortDate(app.webhook.lastPushAt)}` : ''}` : '-'}`,
    `  runtime:    ${app.runtime ?? `(none: builder ${app.builder})`}`,
    `  release:    ${app.release ?? '-'}  commit ${shortCommit(app.commit)}`,
    `  owner:      ${app.owner ?? '-'}`,
    `  env:        ${(app.envKeys ?? []).join(', ') || '-'}`,
    `  processes:  ${processCounts(app)
      .map(([type, n]) => `${type}=${n}`)
      .join(
        ' ',
      )}${app.scale?.resources ? `  (each ${app.scale.resources.cpu} CPU, ${app.scale.resources.memory} MiB)` : ''}`,
    `  https:      ${app.https ?? 'allow'}${app.hsts ? ', HSTS' : ''}`,
    `  databases:  ${(app.databases ?? []).join(', ') || '-'}`,
  ];
  if (!domains.length) lines.push('  domains:    -');
  for (const [i, d] of domains.entries())
    lines.push(
      `  ${i ? '           ' : 'domains:   '} ${d.domain} (${d.status}${d.notAfter ? `, until ${shortDate(d.notAfter)}` : ''})`,
    );
  for (const i of app.instances ?? []) lines.push(`  instance:   ${i.node} ${i.host}:${i.port} ${i.container}`);
  if (lastDeploy) {
    const when = lastDeploy.timings?.finishedAt ?? lastDeploy.timings?.createdAt;
    const took = duration(lastDeploy.timings?.durationMs);
    lines.push(
      `  last deploy: ${lastDeploy.id} ${lastDeploy.status}, commit ${shortCommit(lastDeploy.commit)}, ${shortDate(when)}${took ? ` (${took})` : ''}`,
    );
    if (lastDeploy.error) lines.push(`    ${String(lastDeploy.error).split('\n').join('\n    ')}`);
  } else lines.push('  last deploy: -');
  if (app.lastError) lines.push(`  last error: ${String(app.lastError).split('\n').join('\n    ')}`);
  if (app.lastJob) lines.push(`  last job:   ${app.lastJob.id}`);
  return lines.join('\n');
}
