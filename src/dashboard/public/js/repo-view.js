import { ApiError } from './api.js';
import { markField } from './dom.js';
import { redeployNote } from './format.js';
import { statusLine, tabHandle } from './tab.js';

/**
 * The `repo` change of `PATCH /apps/:name` that turns the app's repository (`current`, as the API
 * shows it) into the form's values: only what differs; an emptied branch or folder is `null`
 * (the repository's default branch, the whole repository). Pure: tested in
 * test/dashboard/app-actions.unit.test.ts.
 */
export function repoChange(current, values) {
  const change = {};
  const url = values.url.trim();
  const branch = values.branch.trim();
  const folder = values.path.trim();
  if (url !== (current?.url ?? '')) change.url = url;
  if (branch !== (current?.branch ?? '')) change.branch = branch || null;
  if (folder !== (current?.path ?? '')) change.path = folder || null;
  return change;
}

/**
 * Where the app is built from: its repository's URL, branch and folder, as `gasper apps repo`
 * shows and changes them. Save sends only what changed; the redeploy from the new source is
 * followed in the job panel, and the serving release stays until it is healthy. A 400 names
 * `repo.url`, `repo.branch` or `repo.path`: shown under that input.
 */
export function createRepoView({ form, inputs, errors, token, message, follow }) {
  let api;
  let app;
  let current;
  const say = statusLine(message);
  const field = { 'repo.url': 'url', 'repo.branch': 'branch', 'repo.path': 'path' };

  function clearMarks() {
    for (const key of Object.keys(inputs)) markField(inputs[key], errors[key], '');
  }

  function render(repo) {
    current = repo;
    inputs.url.value = repo?.url ?? '';
    inputs.branch.value = repo?.branch ?? '';
    inputs.path.value = repo?.path ?? '';
    token.textContent = repo?.hasToken
      ? 'A token is kept for this server (never shown). It is not sent to another server: a URL elsewhere drops it.'
      : 'No token: the repository is cloned without credentials.';
  }

  async function refresh() {
    const [client, name] = [api, app];
    try {
      const body = await client.getApp(name);
      if (client === api && name === app) render(body.app.repo);
    } catch (err) {
      if (client === api && name === app) say(`Could not read the repository of ${name}: ${err.message}`, true);
    }
  }

  async function save(event) {
    event.preventDefault();
    clearMarks();
    say('');
    if (!inputs.url.value.trim()) {
      markField(inputs.url, errors.url, 'Enter the git URL of the repository.');
      return inputs.url.focus();
    }
    const change = repoChange(current, {
      url: inputs.url.value,
      branch: inputs.branch.value,
      path: inputs.path.value,
    });
    if (!Object.keys(change).length) return say('Nothing changed.');
    try {
      const body = await api.updateApp(app, { repo: change });
      render(body.app.repo);
      const dropped = body.changed?.includes('repo.token') && !body.app.repo?.hasToken;
      say(`${app}: ${redeployNote(body)}.${dropped ? ' The token was for another server and was dropped.' : ''}`);
      if (body.job?.id) follow(body.job, `Redeploy of ${app} from its new source`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && Object.keys(err.fields).length > 0) {
        const other = [];
        for (const [name, problem] of Object.entries(err.fields)) {
          const key = field[name];
          if (key) markField(inputs[key], errors[key], problem);
          else other.push(`${name}: ${problem}`);
        }
        say(other.length ? other.join('; ') : 'Please correct the fields marked above.', true);
      } else say(`Could not change the repository of ${app}: ${err.message}`, true);
    }
  }

  form.addEventListener('submit', save);

  return tabHandle({
    bind(client, name) {
      api = client;
      app = name;
    },
    clear() {
      current = undefined;
      form.reset();
      clearMarks();
      token.textContent = '';
      say('');
    },
    load: refresh,
  });
}
