import { ApiError } from './api.js';
import { h, markField, saveFile } from './dom.js';
import { byteSize, redeployNote, shortDate } from './format.js';
import { showRows, statusLine, tabHandle } from './tab.js';

const spec = (v) => ({ name: v.name, path: v.path, ...(typeof v.size === 'number' ? { size: v.size } : {}) });

/**
 * The app's volume list (`PATCH {"volumes"}` replaces it whole) with `volume` added last, or its
 * path and size changed in its place (the API compares lists in order: a volume saved unchanged
 * must not read as a change and redeploy); the others go back as they are. Pure: tested in
 * test/dashboard/app-actions.unit.test.ts.
 */
export function volumesWith(current, volume) {
  const listed = current.some((v) => v.name === volume.name);
  const list = current.map((v) => (v.name === volume.name ? volume : spec(v)));
  return listed ? list : [...list, volume];
}

/** The list without `name`: unmounted, its data kept. Pure. */
export function volumesWithout(current, name) {
  return current.filter((v) => v.name !== name).map(spec);
}

/** What a volume uses on its node, in words. Pure. */
export function volumeUse(v) {
  if (typeof v.usedBytes !== 'number') return 'not measured yet';
  return `${byteSize(v.usedBytes)}${v.overSize ? ' (over its size)' : ''}`;
}

/** The input a PATCH's 400 field (`volumes.0.path`) is about. */
const inputOf = (field) => /^volumes\.\d+\.(name|path|size)$/.exec(field)?.[1] ?? (field === 'volumes' ? 'name' : '');

/**
 * An app's persistent volumes, as `gasper volumes` has them: mount one (or change its path or
 * size) and unmount one, each a redeploy followed in the job panel; back one up, list its backups,
 * download or restore one; delete the data of a volume no longer mounted. Unmounting keeps the
 * data: only the deletion below removes it, as on Heroku.
 */
export function createVolumesView({ list, empty, form, inputs, errors, backups, removal, message, follow }) {
  let api;
  let app;
  let volumes = [];
  const say = statusLine(message);

  function clearMarks() {
    for (const key of Object.keys(errors)) markField(inputs[key], errors[key], '');
    markField(removal.input, removal.error, '');
  }

  function row(v) {
    const name = String(v.name);
    const button = (label, aria, onclick, extra = {}) =>
      h('button', { type: 'button', 'aria-label': aria, onclick, ...extra }, label);
    return h(
      'tr',
      { 'data-volume': name },
      h('th', { scope: 'row', 'data-label': 'Volume' }, name),
      h('td', { 'data-label': 'Path' }, h('code', {}, String(v.path))),
      h('td', { 'data-label': 'Size' }, typeof v.size === 'number' ? `${v.size} MiB` : '—'),
      h('td', { 'data-label': 'Used', class: 'used' }, volumeUse(v)),
      h(
        'td',
        { 'data-label': 'Actions', class: 'actions' },
        h(
          'div',
          { class: 'buttons' },
          button('Back up', `Back up volume ${name}`, () => backup(name)),
          button('Backups', `Show backups of volume ${name}`, () => showBackups(name)),
          button('Unmount', `Unmount volume ${name}`, () => unmount(name), { class: 'danger' }),
        ),
      ),
    );
  }

  async function refresh() {
    const [client, name] = [api, app];
    try {
      const { app: doc } = await client.getApp(name);
      if (client !== api || name !== app) return;
      volumes = doc.volumes ?? [];
      showRows(list, empty, volumes.map(row));
    } catch (err) {
      if (client === api && name === app) say(`Could not list the volumes of ${name}: ${err.message}`, true);
    }
  }

  /** Sends the whole list; a 400 is shown under the input it names. */
  async function patch(next, done) {
    try {
      const body = await api.updateApp(app, { volumes: next });
      say(`${done}; ${redeployNote(body)}.`);
      await refresh();
      if (body.job?.id) follow(body.job, `Redeploy of ${app} with its volumes`);
      return true;
    } catch (err) {
      const fields = err instanceof ApiError ? Object.entries(err.fields) : [];
      const marked = fields.filter(([field]) => inputOf(field));
      for (const [field, problem] of marked) markField(inputs[inputOf(field)], errors[inputOf(field)], problem);
      say(
        marked.length ? 'Please correct the fields marked above.' : `Could not change the volumes: ${err.message}`,
        true,
      );
      return false;
    }
  }

  async function mount(event) {
    event.preventDefault();
    clearMarks();
    say('');
    const volume = { name: inputs.name.value.trim(), path: inputs.path.value.trim() };
    if (!volume.name) return markField(inputs.name, errors.name, 'Name the volume, e.g. data.');
    if (!volume.path) return markField(inputs.path, errors.path, 'Give where it is mounted, e.g. /data.');
    const size = inputs.size.value.trim();
    if (size && !/^\d+$/.test(size)) return markField(inputs.size, errors.size, 'A whole number of MiB, e.g. 1024.');
    if (size) volume.size = Number(size);
    if (await patch(volumesWith(volumes, volume), `Volume ${volume.name} mounted at ${volume.path}`)) form.reset();
  }

  async function unmount(name) {
    if (
      !window.confirm(
        `Stop mounting ${name} in ${app}? Its data is kept until you delete it, and the app is redeployed.`,
      )
    )
      return;
    clearMarks();
    if (await patch(volumesWithout(volumes, name), `${name} unmounted, its data kept (delete it below)`))
      removal.input.value = name;
  }

  async function removeData(event) {
    event.preventDefault();
    clearMarks();
    const name = removal.input.value.trim();
    if (!name) return markField(removal.input, removal.error, 'Name the unmounted volume whose data goes.');
    if (!window.confirm(`Delete the data of volume ${name} of ${app}, and its backups? This cannot be undone.`)) return;
    try {
      const body = await api.deleteVolume(app, name);
      removal.form.reset();
      say(`Deletion of the data of ${name} queued (job ${body.job.id}).`);
      follow(body.job, `Deletion of volume ${name}`);
    } catch (err) {
      const problem =
        err instanceof ApiError && err.code === 'VOLUME_IN_USE'
          ? `${app} still mounts ${name}: unmount it first (its data is kept), then delete its data.`
          : (err.fields?.volume ?? err.message);
      markField(removal.input, removal.error, problem);
    }
  }

  async function backup(name) {
    try {
      const body = await api.backupVolume(app, name);
      say(`Backup ${body.backup.id} of ${name} started (job ${body.job.id}).`);
      if (await follow(body.job, `Backup of volume ${name}`)) await showBackups(name);
    } catch (err) {
      say(`Could not back up ${name}: ${err.message}`, true);
    }
  }

  async function showBackups(name) {
    const client = api;
    const shown = app;
    try {
      const body = await client.listVolumeBackups(shown, name);
      // Another app chosen meanwhile: its panel is not this one's.
      if (client !== api || shown !== app) return;
      backups.section.hidden = false;
      backups.section.dataset.volume = name;
      backups.title.textContent = `Backups of ${name}`;
      showRows(
        backups.list,
        backups.empty,
        body.backups.map((b) => backupRow(name, b)),
      );
    } catch (err) {
      say(`Could not list the backups of ${name}: ${err.message}`, true);
    }
  }

  function backupRow(name, b) {
    const id = String(b.id);
    return h(
      'tr',
      { 'data-backup': id },
      h('th', { scope: 'row', 'data-label': 'Backup' }, id),
      h('td', { 'data-label': 'Size' }, byteSize(b.size)),
      h('td', { 'data-label': 'Taken' }, shortDate(b.createdAt)),
      h(
        'td',
        { 'data-label': 'Actions', class: 'actions' },
        h(
          'div',
          { class: 'buttons' },
          h(
            'button',
            { type: 'button', 'aria-label': `Download ${id}`, onclick: () => download(name, id) },
            'Download',
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              'aria-label': `Restore ${name} from ${id}`,
              onclick: () => restore(name, id),
            },
            'Restore',
          ),
        ),
      ),
    );
  }

  async function download(name, id) {
    try {
      const { blob, filename } = await api.downloadVolumeBackup(app, name, id);
      saveFile(blob, filename ?? `${app}-${name}-${id}.tar`);
      say(`Backup ${id} of ${name} downloaded (${byteSize(blob.size)}).`);
    } catch (err) {
      say(`Could not download ${id}: ${err.message}`, true);
    }
  }

  async function restore(name, id) {
    const question = `Replace the files of ${name} by backup ${id}? What was written since is lost. For a consistent restore, stop ${app} first.`;
    if (!window.confirm(question)) return;
    try {
      const body = await api.restoreVolume(app, name, id);
      say(`Restore of ${name} from ${id} queued (job ${body.job.id}).`);
      follow(body.job, `Restore of volume ${name}`);
    } catch (err) {
      say(`Could not restore ${name}: ${err.fields?.backup ?? err.message}`, true);
    }
  }

  form.addEventListener('submit', mount);
  removal.form.addEventListener('submit', removeData);

  return tabHandle({
    bind(client, name) {
      api = client;
      app = name;
    },
    clear() {
      volumes = [];
      list.replaceChildren();
      form.reset();
      removal.form.reset();
      backups.section.hidden = true;
      backups.list.replaceChildren();
      clearMarks();
      say('');
    },
    load: refresh,
  });
}
