import { ApiError } from './api.js';
import { markField } from './dom.js';
import { redeployNote } from './format.js';
import { statusLine, tabHandle } from './tab.js';
import { createWebhookSection } from './webhook-view.js';

/**
 * The `repo` change of `PATCH /apps/:name` that turns the app's repository (`current`, as the API
 * shows it) into the form's values: only what differs; an emptied branch or folder is `null`
 * (the repository's default branch, the whole repository). A token typed in replaces the kept
 * one, with the user it goes with when one is given; `removeToken` (without a new one) removes it
 * (`null`). Pure: tested in
 * test/dashboard/app-actions.unit.test.ts.
 */
export function repoChange(current, values) {
  const change = {};
  const url = values.url.trim();
  const branch = values.branch.trim();
  const folder = values.path.trim();
  const token = (values.token ?? '').trim();
  if (url !== (current?.url ?? '')) change.url = url;
  if (branch !== (current?.branch ?? '')) change.branch = branch || null;
  if (folder !== (current?.path ?? '')) change.path = folder || null;
  const username = (values.username ?? '').trim();
  if (token) Object.assign(change, { token }, username ? { username } : {});
  else if (values.removeToken && current?.hasToken) change.token = null;
  return change;
}

/**
 * What the page says about the token after a save, from the PATCH's answer. A token saved for an
 * app that runs is for its next clone (no redeploy): the page says how to clone now.
 */
export function tokenNote(change, body) {
  if (!body.changed?.includes('repo.token')) return '';
  const now = (how) => (body.redeploy === false ? ` "Deploy the latest commit" clones ${how} now.` : '');
  if (body.app.repo?.hasToken) return ` The new token is kept (encrypted, never shown).${now('with it')}`;
  if (change.token === null)
    return ` The token was removed: the next clone goes without credentials.${now('without it')}`;
  return ' The token was for another server and was dropped.';
}

/**
 * Where the app is built from: its repository's URL, branch, folder and access token, as `gasper
 * apps repo` shows and changes them. Save sends only what changed; the redeploy from the new
 * source is followed in the job panel, and the serving release stays until it is healthy. The
 * token is write-only: the page says whether one is kept, never what it is. A 400 names
 * `repo.url`, `repo.branch`, `repo.path` or `repo.token`: shown under that input. "Deploy the
 * latest commit" is `POST /apps/:name/rebuild` (with `cache: false` when asked), as Render's
 * manual deploy: the way to deploy a new push without a webhook, or a token saved for a running app.
 * "Deploy on push" sets up the GitHub webhook (webhook-view.js).
 */
export function createRepoView({ form, inputs, errors, token, rebuild, webhook, message, follow }) {
  let api;
  let app;
  let current;
  const say = statusLine(message);
  const hook = createWebhookSection({ ...webhook, say });
  const field = {
    'repo.url': 'url',
    'repo.branch': 'branch',
    'repo.path': 'path',
    'repo.token': 'token',
    'repo.username': 'username',
  };

  function clearMarks() {
    for (const key of Object.keys(errors)) markField(inputs[key], errors[key], '');
  }

  function render(repo) {
    current = repo;
    inputs.url.value = repo?.url ?? '';
    inputs.branch.value = repo?.branch ?? '';
    inputs.path.value = repo?.path ?? '';
    inputs.token.value = '';
    inputs.username.value = '';
    inputs.removeToken.checked = false;
    inputs.removeToken.disabled = !repo?.hasToken;
    token.textContent = repo?.hasToken
      ? 'A token is kept for this server (never shown): a new one replaces it. It is not sent to another server: a URL elsewhere drops it.'
      : 'No token: the repository is cloned without credentials. A private https repository needs one that can read it.';
  }

  async function refresh() {
    const [client, name] = [api, app];
    try {
      const body = await client.getApp(name);
      if (client === api && name === app) {
        render(body.app.repo);
        hook.render(body.app.webhook);
      }
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
    if (inputs.username.value.trim() && !inputs.token.value.trim()) {
      markField(inputs.username, errors.username, 'A user goes with a new token: enter the token too.');
      return inputs.token.focus();
    }
    if (inputs.token.value.trim() && inputs.removeToken.checked) {
      markField(inputs.token, errors.token, 'Enter a new token or remove the kept one, not both.');
      return inputs.token.focus();
    }
    const change = repoChange(current, {
      url: inputs.url.value,
      branch: inputs.branch.value,
      path: inputs.path.value,
      token: inputs.token.value,
      username: inputs.username.value,
      removeToken: inputs.removeToken.checked,
    });
    if (!Object.keys(change).length) return say('Nothing changed.');
    try {
      const body = await api.updateApp(app, { repo: change });
      render(body.app.repo);
      say(`${app}: ${redeployNote(body)}.${tokenNote(change, body)}`);
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

  async function deployLatest(event) {
    event.preventDefault();
    const cache = !rebuild.noCache.checked;
    try {
      const body = await api.rebuildApp(app, { cache });
      rebuild.noCache.checked = false;
      say(
        `${app}: deploy of the latest commit queued (job ${body.job.id})${cache ? '' : ', without the build cache'}.`,
      );
      follow(body.job, `Deploy of ${app}'s latest commit`);
    } catch (err) {
      say(`Could not deploy ${app}: ${err.message}`, true);
    }
  }

  form.addEventListener('submit', save);
  rebuild.form.addEventListener('submit', deployLatest);

  return tabHandle({
    bind(client, name) {
      api = client;
      app = name;
      hook.bind(client, name);
    },
    clear() {
      current = undefined;
      form.reset();
      rebuild.form.reset();
      hook.clear();
      clearMarks();
      token.textContent = '';
      say('');
    },
    load: refresh,
  });
}
