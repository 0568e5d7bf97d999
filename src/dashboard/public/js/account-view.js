import { ApiError } from './api.js';
import { h, markField } from './dom.js';
import { quotaWords, shortDate } from './format.js';
import { statusLine } from './tab.js';

/**
 * The create-user form's values as a `POST /users` body: empty quotas are left out (no limit).
 * Pure: tested in test/dashboard/app-actions.unit.test.ts. A quota that is not a number is sent
 * as typed, for the API to refuse naming `quotas.<field>`.
 */
export function userRequest(values) {
  const quotas = {};
  for (const field of ['maxApps', 'maxDatabases', 'maxCpu', 'maxMemoryMb']) {
    const text = String(values[field] ?? '').trim();
    if (text) quotas[field] = Number.isFinite(Number(text)) ? Number(text) : text;
  }
  return {
    name: String(values.name ?? '').trim(),
    role: values.role === 'admin' ? 'admin' : 'member',
    ...(Object.keys(quotas).length ? { quotas } : {}),
  };
}

/**
 * The Account panel, as `gasper tokens` and (for admins) `gasper users`: who is signed in and
 * their quotas; their API tokens (never a value), made with a name and scopes, the secret shown
 * once, and revoked after a confirmation; for an admin, the users, made with a role and quotas
 * (the first token and the login shown once) and deleted after a confirmation. A 400's fields
 * are shown under their inputs.
 */
export function createAccountView({ section, closeButton, me, tokens, users, message }) {
  let api;
  let user;
  const say = statusLine(message);

  function shownOnce(target, lines) {
    target.replaceChildren(...lines.map((line) => h('p', {}, ...line)));
    target.hidden = false;
  }

  async function refreshTokens() {
    const { tokens: list } = await api.listTokens();
    tokens.empty.hidden = list.length > 0;
    tokens.list.replaceChildren(
      ...list.map((t) =>
        h(
          'tr',
          { 'data-token': t.id },
          h('td', {}, h('code', {}, t.id)),
          h('td', {}, t.name),
          h('td', {}, t.scopes.join(', ')),
          h('td', {}, shortDate(t.createdAt)),
          h('td', {}, h('button', { type: 'button', class: 'danger', onclick: () => revokeToken(t) }, 'Revoke')),
        ),
      ),
    );
  }

  async function refreshUsers() {
    const { users: list } = await api.listUsers();
    users.list.replaceChildren(
      ...list.map((u) =>
        h(
          'tr',
          { 'data-user': u.name },
          h('td', {}, h('strong', {}, u.name)),
          h('td', {}, u.role),
          h('td', {}, quotaWords(u.quotas)),
          h('td', {}, shortDate(u.createdAt)),
          h(
            'td',
            {},
            u.name === user.name
              ? ''
              : h('button', { type: 'button', class: 'danger', onclick: () => deleteUser(u.name) }, 'Delete'),
          ),
        ),
      ),
    );
  }

  async function createToken(event) {
    event.preventDefault();
    markField(tokens.name, tokens.nameError, '');
    const scopes = tokens.scopes.filter((box) => box.checked).map((box) => box.value);
    try {
      const body = await api.createToken({ name: tokens.name.value.trim(), scopes });
      tokens.form.reset();
      shownOnce(tokens.created, [
        [`Token ${body.token.id} (${body.token.name}: ${body.token.scopes.join(', ')}), shown this once:`],
        [h('code', { class: 'secret' }, body.secret)],
      ]);
      say('');
      await refreshTokens();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && (err.fields.name || err.fields.scopes))
        markField(tokens.name, tokens.nameError, err.fields.name ?? `scopes: ${err.fields.scopes}`);
      else say(`Could not make the token: ${err.message}`, true);
    }
  }

  async function revokeToken(token) {
    if (
      !window.confirm(
        `Revoke the token ${token.id} (${token.name})? It stops working at once; if this page signed in with it, you are signed out.`,
      )
    )
      return;
    try {
      await api.revokeToken(token.id);
      say(`${token.id} revoked.`);
      await refreshTokens();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) say(`Could not revoke ${token.id}: ${err.message}`, true);
    }
  }

  async function createUser(event) {
    event.preventDefault();
    for (const key of Object.keys(users.errors)) markField(users.inputs[key], users.errors[key], '');
    const body = userRequest(Object.fromEntries(new FormData(users.form)));
    try {
      const created = await api.createUser(body);
      users.form.reset();
      shownOnce(users.created, [
        [`${created.user.name} created (${created.user.role}). Their first token, shown this once:`],
        [h('code', { class: 'secret' }, created.token)],
        [
          'They sign in here with it, or with ',
          h('code', {}, `gasper login ${created.apiUrl} --token ${created.token}`),
        ],
      ]);
      say('');
      await refreshUsers();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && Object.keys(err.fields).length) {
        const other = [];
        for (const [field, problem] of Object.entries(err.fields)) {
          const key = field.startsWith('quotas.') ? field.slice('quotas.'.length) : field;
          if (users.errors[key]) markField(users.inputs[key], users.errors[key], problem);
          else other.push(`${field}: ${problem}`);
        }
        say(other.length ? other.join('; ') : 'Please correct the fields marked above.', true);
      } else if (err instanceof ApiError && err.status === 409)
        markField(users.inputs.name, users.errors.name, err.message);
      else say(`Could not create the user: ${err.message}`, true);
    }
  }

  async function deleteUser(name) {
    if (!window.confirm(`Delete the user ${name}? Their tokens stop working at once.`)) return;
    try {
      await api.deleteUser(name);
      say(`${name} deleted; their tokens no longer work.`);
      await refreshUsers();
    } catch (err) {
      say(`Could not delete ${name}: ${err.message}`, true);
    }
  }

  tokens.form.addEventListener('submit', createToken);
  users.form.addEventListener('submit', createUser);
  closeButton.addEventListener('click', () => reset());

  function reset() {
    section.hidden = true;
    users.section.hidden = true;
    tokens.created.hidden = true;
    tokens.created.replaceChildren();
    users.created.hidden = true;
    users.created.replaceChildren();
    tokens.list.replaceChildren();
    users.list.replaceChildren();
    say('');
  }

  return {
    async show(client) {
      reset();
      api = client;
      section.hidden = false;
      try {
        ({ user } = await api.me());
        me.textContent = `${user.name} (${user.role}); quotas: ${quotaWords(user.quotas)}.`;
        for (const box of tokens.scopes) box.closest('.field').hidden = box.value === 'admin' && user.role !== 'admin';
        await refreshTokens();
      } catch (err) {
        return say(`Could not read your account: ${err.message}`, true);
      }
      if (user.role !== 'admin') return;
      try {
        await refreshUsers();
        users.section.hidden = false;
      } catch (err) {
        // An admin signed in with a token without the admin scope sees their tokens, and why no users.
        say(`The users are not shown: ${err.message}.`, !(err instanceof ApiError && err.status === 403));
      }
    },
    reset,
  };
}
