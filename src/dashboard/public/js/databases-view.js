import { h, saveFile } from './dom.js';
import { byteSize, shortDate } from './format.js';
import { showRows, statusLine, tabHandle } from './tab.js';

/**
 * The user's databases seen from one app: which are linked to it, Link / Unlink (the app's whole
 * list sent back with one added or removed, `PATCH /apps/:name {databases}`, as `gasper databases
 * link` does), Back up (`POST /databases/:db/backups`), and a database's backups listed and
 * downloaded. Each change queues a job, followed in the job panel.
 */
export function createDatabasesView({ list, empty, message, backups, follow }) {
  let api;
  let app;

  const say = statusLine(message);

  function row(db, isLinked) {
    const name = String(db.name);
    const button = (label, aria, onclick, extra = {}) =>
      h('button', { type: 'button', 'aria-label': aria, onclick, ...extra }, label);
    return h(
      'tr',
      { 'data-database': name },
      h('th', { scope: 'row', 'data-label': 'Database' }, name),
      h('td', { 'data-label': 'Engine' }, String(db.engine ?? '—')),
      h('td', { 'data-label': 'Status' }, String(db.status ?? 'not found')),
      h('td', { 'data-label': 'Linked', class: 'linked' }, isLinked ? `linked to ${app}` : 'no'),
      h(
        'td',
        { 'data-label': 'Actions', class: 'actions' },
        h(
          'div',
          { class: 'buttons' },
          isLinked
            ? button('Unlink', `Unlink ${name} from ${app}`, () => relink(name, false), { class: 'danger' })
            : button('Link', `Link ${name} to ${app}`, () => relink(name, true)),
          db.engine ? button('Back up', `Back up ${name}`, () => backup(name)) : '',
          db.engine ? button('Backups', `Show backups of ${name}`, () => showBackups(name)) : '',
        ),
      ),
    );
  }

  async function refresh() {
    const [current, name] = [api, app];
    try {
      const [{ databases }, { app: doc }] = await Promise.all([current.listDatabases(), current.getApp(name)]);
      if (current !== api || name !== app) return;
      const linked = doc.databases ?? [];
      // A linked database this user cannot list (deleted since, say) still shows, so it can be unlinked.
      const known = new Set(databases.map((d) => d.name));
      const rows = [...databases, ...linked.filter((d) => !known.has(d)).map((d) => ({ name: d }))];
      showRows(
        list,
        empty,
        rows.map((db) => row(db, linked.includes(db.name))),
      );
    } catch (err) {
      if (current === api && name === app) say(`Could not list the databases: ${err.message}`, true);
    }
  }

  async function relink(db, link) {
    const verb = link ? 'Link' : 'Unlink';
    if (!link && !window.confirm(`Unlink ${db} from ${app}? Its URL variable goes and the app is redeployed.`)) return;
    const [current, name] = [api, app];
    try {
      // The app's list as it is now, in case it changed since the table was drawn.
      const { app: doc } = await current.getApp(name);
      const now = doc.databases ?? [];
      const next = link ? [...now.filter((d) => d !== db), db] : now.filter((d) => d !== db);
      const body = await current.updateApp(name, { databases: next });
      say(`${db} ${link ? 'linked to' : 'unlinked from'} ${name}; redeploy queued (job ${body.job.id}).`);
      await refresh();
      follow(body.job, `Redeploy of ${name}`);
    } catch (err) {
      const detail = Object.values(err.fields ?? {}).join('; ');
      say(`Could not ${verb.toLowerCase()} ${db}: ${detail || err.message}`, true);
    }
  }

  async function backup(db) {
    try {
      const body = await api.backupDatabase(db);
      say(`Backup ${body.backup.id} of ${db} started (job ${body.job.id}).`);
      const done = await follow(body.job, `Backup of ${db}`);
      if (done) await showBackups(db);
    } catch (err) {
      say(`Could not back up ${db}: ${err.message}`, true);
    }
  }

  async function showBackups(db) {
    const current = api;
    try {
      const body = await current.listBackups(db);
      if (current !== api) return;
      backups.section.hidden = false;
      backups.title.textContent = `Backups of ${db}`;
      backups.section.dataset.database = db;
      backups.list.replaceChildren(
        ...body.backups.map((b) =>
          h(
            'tr',
            { 'data-backup': String(b.id) },
            h('th', { scope: 'row', 'data-label': 'Backup' }, String(b.id)),
            h('td', { 'data-label': 'Size' }, byteSize(b.size)),
            h('td', { 'data-label': 'Created' }, shortDate(b.createdAt)),
            h(
              'td',
              { 'data-label': 'Actions', class: 'actions' },
              h(
                'button',
                { type: 'button', 'aria-label': `Download ${b.id}`, onclick: () => download(db, String(b.id)) },
                'Download',
              ),
            ),
          ),
        ),
      );
      backups.empty.hidden = body.backups.length > 0;
    } catch (err) {
      say(`Could not list the backups of ${db}: ${err.message}`, true);
    }
  }

  async function download(db, id) {
    try {
      const { blob, filename } = await api.downloadBackup(db, id);
      saveFile(blob, filename ?? `${db}-${id}`);
      say(`Backup ${id} of ${db} downloaded (${byteSize(blob.size)}).`);
    } catch (err) {
      say(`Could not download ${id}: ${err.message}`, true);
    }
  }

  return tabHandle({
    bind(client, name) {
      api = client;
      app = name;
    },
    clear() {
      list.replaceChildren();
      backups.section.hidden = true;
      backups.list.replaceChildren();
      say('');
    },
    load: refresh,
  });
}
