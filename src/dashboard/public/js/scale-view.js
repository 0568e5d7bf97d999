import { ApiError } from './api.js';
import { h, markField } from './dom.js';
import { redeployNote } from './format.js';
import { statusLine, tabHandle } from './tab.js';

/**
 * The process types to show, web first: those the app asks for (`formation.desired`) and those its
 * current release declares (`formation.running`, a Procfile's), each with its desired count.
 */
export function formationRows(app) {
  const desired = app?.formation?.desired ?? { web: app?.scale?.instances ?? 1 };
  const types = new Set([...Object.keys(desired), ...Object.keys(app?.formation?.running ?? {})]);
  return [...types]
    .sort((a, b) => (a === 'web' ? -1 : b === 'web' ? 1 : a.localeCompare(b)))
    .map((type) => [type, Number(desired[type] ?? 0)]);
}

/**
 * An app's process formation: a number input per process type and Apply, which sends
 * `PATCH /apps/:name {processes}` as `gasper scale` does. A 400 names `processes.<type>`: shown
 * under that type's input; the redeploy it queues is followed in the job panel.
 */
export function createScaleView({ rows, form, message, follow }) {
  let api;
  let app;
  /** type → {input, error} */
  let fields = new Map();

  const say = statusLine(message);

  function render(doc) {
    fields = new Map();
    rows.replaceChildren(
      ...formationRows(doc).map(([type, count]) => {
        const id = `scale-${type}`;
        const input = h('input', {
          id,
          name: type,
          type: 'number',
          min: '0',
          step: '1',
          value: String(count),
          'aria-describedby': `${id}-error`,
        });
        const error = h('p', { id: `${id}-error`, class: 'error field-error' });
        fields.set(type, { input, error });
        return h('div', { class: 'field', 'data-process': type }, h('label', { for: id }, type), input, error);
      }),
    );
  }

  async function refresh() {
    const [current, name] = [api, app];
    try {
      const body = await current.getApp(name);
      if (current === api && name === app) render(body.app);
    } catch (err) {
      if (current === api && name === app) say(`Could not read the processes of ${name}: ${err.message}`, true);
    }
  }

  async function apply(event) {
    event.preventDefault();
    say('');
    const processes = {};
    let bad;
    for (const [type, { input, error }] of fields) {
      const count = Number(input.value);
      const problem = input.value.trim() === '' || !Number.isInteger(count) || count < 0 ? 'a whole number from 0' : '';
      markField(input, error, problem);
      bad ??= problem ? input : undefined;
      processes[type] = count;
    }
    if (bad) return bad.focus();
    try {
      const body = await api.updateApp(app, { processes });
      const counts = Object.entries(processes)
        .map(([type, n]) => `${type}=${n}`)
        .join(' ');
      say(`${app}: ${counts}; ${redeployNote(body)}.`);
      if (body.job?.id) follow(body.job, `Redeploy of ${app}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && Object.keys(err.fields).length > 0) {
        const other = [];
        for (const [field, problem] of Object.entries(err.fields)) {
          const target = fields.get(field.replace(/^processes\./, ''));
          if (field.startsWith('processes.') && target) markField(target.input, target.error, problem);
          else other.push(`${field}: ${problem}`);
        }
        say(other.length ? other.join('; ') : 'Please correct the counts marked above.', true);
      } else say(`Could not scale ${app}: ${err.message}`, true);
    }
  }

  form.addEventListener('submit', apply);

  return tabHandle({
    bind(client, name) {
      api = client;
      app = name;
    },
    clear() {
      fields = new Map();
      rows.replaceChildren();
      say('');
    },
    load: refresh,
  });
}
