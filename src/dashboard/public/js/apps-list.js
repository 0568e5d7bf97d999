import { h, safeHttpUrl } from './dom.js';

const knownStatuses = new Set(['queued', 'deploying', 'running', 'failed', 'deleting', 'stopped']);

/**
 * The apps table, updated in place by name: a periodic refresh changes the cells that changed
 * and keeps rows (and the keyboard focus on their buttons) where they are.
 */
export function createAppsTable({
  table,
  body,
  empty,
  onLogs,
  onMetrics,
  onManage,
  onDomains,
  onTerminal,
  onRestart,
  onDelete,
}) {
  const rows = new Map();

  function createRow(name) {
    const status = h('span', { class: 'badge' });
    const url = h('td', { 'data-label': 'URL' });
    const runtime = h('td', { 'data-label': 'Runtime' });
    const buttons = [
      h('button', { type: 'button', 'aria-label': `Show logs of ${name}`, onclick: () => onLogs(name) }, 'Logs'),
      h(
        'button',
        { type: 'button', 'aria-label': `Show CPU and memory of ${name}`, onclick: () => onMetrics(name) },
        'Metrics',
      ),
      h(
        'button',
        {
          type: 'button',
          'aria-label': `Manage ${name}: env, scale, releases, databases`,
          onclick: () => onManage(name),
        },
        'Manage',
      ),
      h(
        'button',
        { type: 'button', 'aria-label': `Custom domains of ${name}`, onclick: () => onDomains(name) },
        'Domains',
      ),
      h(
        'button',
        { type: 'button', 'aria-label': `Open a terminal in ${name}`, onclick: () => onTerminal(name) },
        'Terminal',
      ),
      h('button', { type: 'button', 'aria-label': `Restart ${name}`, onclick: () => onRestart(name) }, 'Restart'),
      h(
        'button',
        { type: 'button', class: 'danger', 'aria-label': `Delete ${name}`, onclick: () => onDelete(name) },
        'Delete',
      ),
    ];
    const row = h(
      'tr',
      { 'data-app': name },
      h('th', { scope: 'row', 'data-label': 'Name' }, name),
      h('td', { 'data-label': 'Status' }, status),
      url,
      runtime,
      h('td', { 'data-label': 'Actions', class: 'actions' }, h('div', { class: 'buttons' }, buttons)),
    );
    return { row, status, url, runtime, buttons, last: '' };
  }

  function fill(entry, app) {
    const key = JSON.stringify([app.status, app.url, app.runtime, app.lastError]);
    if (entry.last === key) return;
    entry.last = key;
    const status = String(app.status ?? 'unknown');
    entry.status.textContent = status;
    entry.status.className = `badge status-${knownStatuses.has(status) ? status : 'unknown'}`;
    if (app.lastError) entry.status.title = String(app.lastError);
    else entry.status.removeAttribute('title');
    const href = safeHttpUrl(app.url);
    entry.url.replaceChildren(
      href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, String(app.url)) : String(app.url ?? ''),
    );
    entry.runtime.textContent = String(app.runtime ?? '');
    for (const button of entry.buttons) button.disabled = status === 'deleting';
  }

  return {
    update(apps) {
      const sorted = [...apps].sort((a, b) => String(a.name).localeCompare(String(b.name)));
      const seen = new Set();
      sorted.forEach((app, index) => {
        const name = String(app.name);
        seen.add(name);
        let entry = rows.get(name);
        if (!entry) rows.set(name, (entry = createRow(name)));
        fill(entry, app);
        if (body.children[index] !== entry.row) body.insertBefore(entry.row, body.children[index] ?? null);
      });
      for (const [name, entry] of rows) {
        if (!seen.has(name)) {
          entry.row.remove();
          rows.delete(name);
        }
      }
      empty.hidden = sorted.length > 0;
      table.hidden = sorted.length === 0;
    },
    clear() {
      rows.clear();
      body.replaceChildren();
    },
  };
}
