import { ApiError } from './api.js';
import { h, markField } from './dom.js';
import { redeployNote } from './format.js';
import { statusLine, tabHandle } from './tab.js';

/**
 * An app's environment variables: their names (values are stored encrypted and the API never
 * returns them), a form to set one and an Unset button per name. Both are a `PATCH /apps/:name`
 * with `env`, as `gasper env set|unset` sends it; the redeploy it queues is followed in the job
 * panel (`follow`).
 */
export function createEnvView({ list, empty, form, key, keyError, value, valueError, message, follow }) {
  let api;
  let app;

  const say = statusLine(message);

  function clearErrors() {
    markField(key, keyError);
    markField(value, valueError);
  }

  function render(names) {
    list.replaceChildren(
      ...names.map((name) =>
        h(
          'li',
          { 'data-env': name },
          h('code', {}, name),
          h('span', { class: 'help' }, ' set (value hidden)'),
          h(
            'button',
            { type: 'button', class: 'danger', 'aria-label': `Unset ${name}`, onclick: () => unset(name) },
            'Unset',
          ),
        ),
      ),
    );
    empty.hidden = names.length > 0;
  }

  async function refresh() {
    const [current, name] = [api, app];
    try {
      const body = await current.getApp(name);
      if (current === api && name === app) render(body.app.envKeys ?? []);
    } catch (err) {
      if (current === api && name === app) say(`Could not read the env of ${name}: ${err.message}`, true);
    }
  }

  /** The PATCH, its answer in words, then the redeploy followed. */
  async function change(env, what) {
    const body = await api.updateApp(app, { env });
    render(body.app?.envKeys ?? []);
    say(`${app}: ${what}; ${redeployNote(body)}.`);
    if (body.job?.id) follow(body.job, `Redeploy of ${app}`);
  }

  async function set(event) {
    event.preventDefault();
    clearErrors();
    say('');
    const name = key.value.trim();
    if (!name) {
      markField(key, keyError, 'Enter a variable name, e.g. NODE_ENV.');
      return key.focus();
    }
    try {
      await change({ [name]: value.value }, `${name} set`);
      form.reset();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && Object.keys(err.fields).length > 0) {
        // `env.NAME` is about the name, unless the value is what it refuses (too long).
        for (const [field, problem] of Object.entries(err.fields)) {
          const aboutValue = /characters|string/i.test(problem) && field === `env.${name}`;
          if (aboutValue) markField(value, valueError, problem);
          else if (field === 'env' || field.startsWith('env.')) markField(key, keyError, problem);
          else say(`${field}: ${problem}`, true);
        }
        (key.getAttribute('aria-invalid') ? key : value).focus();
      } else say(`Could not set ${name}: ${err.message}`, true);
    }
  }

  async function unset(name) {
    if (!window.confirm(`Unset ${name} on ${app}? The app is redeployed without it.`)) return;
    // An error left from an earlier Set is about another request: it would read as this one's.
    clearErrors();
    try {
      await change({ [name]: null }, `${name} unset`);
    } catch (err) {
      say(`Could not unset ${name}: ${err.message}`, true);
    }
  }

  form.addEventListener('submit', set);

  return tabHandle({
    bind(client, name) {
      api = client;
      app = name;
    },
    clear() {
      list.replaceChildren();
      form.reset();
      clearErrors();
      say('');
    },
    load: refresh,
  });
}
