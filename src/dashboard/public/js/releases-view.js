import { h } from './dom.js';
import { shortDate } from './format.js';
import { showRows, statusLine, tabHandle } from './tab.js';

const knownStatuses = new Set(['building', 'starting', 'active', 'superseded', 'cancelled', 'failed']);

/** Why a release cannot be served again, or '' when it can (the API's own rollback rules). */
export function rollbackProblem(release) {
  if (release.current) return 'serving now';
  if (release.status === 'failed' || !release.timings?.activatedAt?.length) return 'never ran successfully';
  if (!release.onDisk) return 'pruned from disk';
  return '';
}

/**
 * Who asked for a release and why, oldest first (`causes`): `alice: set GREETING`, then a change
 * coalesced into it or a rollback to it. Pure: tested in test/dashboard/app-actions.unit.test.ts.
 */
export function causeLines(release) {
  return (release.causes ?? []).map((c) => `${c.by}: ${c.reason}`);
}

/**
 * An app's releases, newest first (`GET /apps/:name/releases`, as `gasper releases` reads it), the
 * serving one marked, who asked for each and why, and a Roll back button on each release that can
 * serve again: it asks for a confirmation, then `POST /apps/:name/rollback {release}` and follows
 * the job.
 */
export function createReleasesView({ list, empty, message, follow }) {
  let api;
  let app;

  const say = statusLine(message);

  function row(release) {
    const id = String(release.id);
    const status = String(release.status ?? 'unknown');
    const problem = rollbackProblem(release);
    return h(
      'tr',
      { 'data-release': id, class: release.current ? 'current' : undefined },
      h(
        'th',
        { scope: 'row', 'data-label': 'Release' },
        id,
        release.current ? h('span', { class: 'badge serving' }, 'serving') : '',
      ),
      h(
        'td',
        { 'data-label': 'Status' },
        h('span', { class: `badge release-${knownStatuses.has(status) ? status : 'unknown'}` }, status),
      ),
      h('td', { 'data-label': 'Commit' }, h('code', {}, String(release.commit ?? '').slice(0, 10) || '—')),
      h('td', { 'data-label': 'Created' }, shortDate(release.timings?.createdAt)),
      h('td', { 'data-label': 'Why', class: 'why' }, ...causeLines(release).map((line) => h('div', {}, line))),
      h(
        'td',
        { 'data-label': 'Actions', class: 'actions' },
        problem
          ? h('span', { class: 'help' }, problem)
          : h(
              'button',
              { type: 'button', 'aria-label': `Roll back ${app} to ${id}`, onclick: () => rollback(id) },
              'Roll back',
            ),
      ),
    );
  }

  async function refresh() {
    const [current, name] = [api, app];
    try {
      const { releases } = await current.listReleases(name);
      if (current !== api || name !== app) return;
      showRows(list, empty, releases.map(row));
    } catch (err) {
      if (current === api && name === app) say(`Could not list the releases of ${name}: ${err.message}`, true);
    }
  }

  async function rollback(release) {
    if (!window.confirm(`Roll ${app} back to ${release}? It serves that release's build again, without building.`))
      return;
    const [current, name] = [api, app];
    try {
      const body = await current.rollback(name, release);
      say(`Rollback of ${name} to ${body.release} queued (job ${body.job.id}).`);
      const done = await follow(body.job, `Rollback of ${name} to ${body.release}`);
      if (current === api && name === app && done) await refresh();
    } catch (err) {
      say(`Could not roll ${name} back to ${release}: ${err.message}`, true);
    }
  }

  return tabHandle({
    bind(client, name) {
      api = client;
      app = name;
    },
    clear() {
      list.replaceChildren();
      say('');
    },
    load: refresh,
  });
}
