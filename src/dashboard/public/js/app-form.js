/** The create form's fields, by the name of their input. */
export const formFields = ['name', 'repo', 'branch', 'path', 'token', 'username', 'runtime', 'build', 'run', 'env'];

const nonEmptyLines = (text) =>
  String(text ?? '')
    .split(/\r\n|\r|\n/)
    .map((line, index) => ({ line, number: index + 1 }))
    .filter(({ line }) => line.trim() !== '');

/**
 * The form's values as a `POST /apps` body. Empty optional fields are left out, so the API
 * applies its defaults. The access token (a private https repository's) goes in `repo.token`, with
 * `repo.username` when one is given (Bitbucket's needs the account's).
 * Build commands are one per line; env is `KEY=VALUE` per line (`#` comments allowed, the value
 * kept as typed). `errors` holds what cannot become a body at all; everything else is for the API
 * to judge, so its rules live in one place.
 */
export function formToRequest(values) {
  const errors = {};
  const text = (name) => String(values[name] ?? '').trim();
  const body = { name: text('name'), repo: { url: text('repo') }, runtime: text('runtime') };
  if (text('branch')) body.repo.branch = text('branch');
  if (text('path')) body.repo.path = text('path');
  if (text('token')) body.repo.token = text('token');
  if (text('username') && !text('token')) errors.username = 'A user goes with an access token: enter the token too.';
  else if (text('username')) body.repo.username = text('username');
  const build = nonEmptyLines(values.build).map(({ line }) => line.trim());
  if (build.length > 0) body.build = build;
  if (text('run')) body.run = text('run');
  const env = {};
  for (const { line, number } of nonEmptyLines(values.env)) {
    if (line.trim().startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq === -1 ? '' : line.slice(0, eq).trim();
    if (!key) {
      errors.env ??= `line ${number}: expected KEY=VALUE`;
      continue;
    }
    if (Object.hasOwn(env, key)) errors.env ??= `line ${number}: ${key} is set twice`;
    env[key] = line.slice(eq + 1);
  }
  if (Object.keys(env).length > 0) body.env = env;
  return { body, errors };
}

/** The form field of each `repo.*` field of the API. */
const repoFields = { url: 'repo', branch: 'branch', path: 'path', token: 'token', username: 'username' };

/**
 * Places the API's 400 `fields` (`"repo.url"`, `"build.1"`, `"env.FOO"`) on the form's fields.
 * Problems with no field of their own (an unknown field, the body) go to `other`.
 */
export function placeFieldErrors(apiFields) {
  const byField = {};
  const other = [];
  for (const [path, message] of Object.entries(apiFields ?? {})) {
    const [head, ...rest] = path.split('.');
    const sub = rest.join('.');
    let field;
    let text = String(message);
    if (head === 'repo') field = repoFields[sub] ?? 'repo';
    else if (head === 'build' && /^\d+$/.test(sub)) [field, text] = ['build', `command ${Number(sub) + 1}: ${text}`];
    else if (head === 'env' && sub) [field, text] = ['env', `${sub}: ${text}`];
    else if (formFields.includes(head)) field = head;
    if (field && (head !== 'repo' || !sub || Object.hasOwn(repoFields, sub))) (byField[field] ??= []).push(text);
    else other.push(`${path}: ${text}`);
  }
  return { byField: Object.fromEntries(Object.entries(byField).map(([f, list]) => [f, list.join('; ')])), other };
}

/**
 * What to do in the dashboard about a deploy whose clone failed (the worker's messages,
 * workers/apps/clone.ts), or '' for other failures. Pure: its table test builds the messages with
 * the worker's own code, so a reworded message fails it.
 */
export function cloneAdvice(error) {
  const message = String(error ?? '');
  if (!message.startsWith('git clone failed: ')) return '';
  const source = 'Manage → Source';
  if (/^git clone failed: branch .* not found in /.test(message)) return `Choose another branch in ${source}.`;
  if (/^git clone failed: repository .* not found /.test(message))
    return `Check the URL in ${source}; a private repository also needs an access token there.`;
  if (/^git clone failed: authentication failed for .*this installation's SSH key/.test(message))
    return `In ${source}, give the https URL of the repository and an access token.`;
  if (/^git clone failed: authentication failed for /.test(message))
    return `Give an access token that can read the repository (and its git user, for Bitbucket) in ${source}.`;
  return '';
}
