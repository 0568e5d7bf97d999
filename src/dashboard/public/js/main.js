import { createAccountView } from './account-view.js';
import { ApiError, createApi } from './api.js';
import { cloneAdvice, formFields, formToRequest, placeFieldErrors } from './app-form.js';
import { createAppsTable } from './apps-list.js';
import { byId, h } from './dom.js';
import { createDomainsView } from './domains-view.js';
import { createJobView } from './job-view.js';
import { createLogView } from './log-view.js';
import { createManagePanel } from './manage-panel.js';
import { createMetricsView } from './metrics-view.js';
import { createNodesView } from './nodes-view.js';
import { createTerminalView } from './terminal-view.js';
import { forgetToken, storedToken, storeToken } from './session.js';

const refreshMs = 3000;

const ui = {
  signIn: byId('sign-in'),
  signInForm: byId('sign-in-form'),
  token: byId('token'),
  tokenError: byId('token-error'),
  whoami: byId('whoami'),
  userName: byId('user-name'),
  userRole: byId('user-role'),
  signOut: byId('sign-out'),
  workspace: byId('workspace'),
  appsError: byId('apps-error'),
  appsUpdated: byId('apps-updated'),
  actionMessage: byId('action-message'),
  createForm: byId('create-form'),
  createError: byId('create-error'),
  createSubmit: byId('create-submit'),
  runtime: byId('f-runtime'),
};

let api;
let refreshTimer;

const jobs = createJobView({
  section: byId('activity'),
  title: byId('activity-title'),
  progress: byId('job-progress'),
  percent: byId('job-percent'),
  step: byId('job-step'),
  state: byId('job-state'),
  error: byId('job-error'),
  log: byId('job-log'),
});
const logs = createLogView({
  section: byId('logs'),
  title: byId('logs-title'),
  status: byId('logs-status'),
  list: byId('log-lines'),
  stopButton: byId('logs-stop'),
});
const metrics = createMetricsView({
  section: byId('metrics'),
  title: byId('metrics-title'),
  status: byId('metrics-status'),
  charts: byId('metrics-charts'),
  stopButton: byId('metrics-stop'),
});
const domains = createDomainsView({
  section: byId('domains'),
  title: byId('domains-title'),
  list: byId('domains-body'),
  empty: byId('domains-empty'),
  form: byId('domain-form'),
  input: byId('d-domain'),
  inputError: byId('d-domain-error'),
  message: byId('domains-message'),
  closeButton: byId('domains-close'),
  edge: { form: byId('edge-form'), https: byId('edge-https'), hsts: byId('edge-hsts') },
});
const account = createAccountView({
  section: byId('account'),
  closeButton: byId('account-close'),
  me: byId('account-me'),
  tokens: {
    list: byId('tokens-body'),
    empty: byId('tokens-empty'),
    form: byId('token-form'),
    name: byId('t-name'),
    nameError: byId('t-name-error'),
    scopes: [byId('t-read'), byId('t-deploy'), byId('t-admin')],
    created: byId('token-created'),
  },
  users: {
    section: byId('users-section'),
    list: byId('users-body'),
    form: byId('user-form'),
    inputs: {
      name: byId('u-name'),
      maxApps: byId('u-max-apps'),
      maxDatabases: byId('u-max-databases'),
      maxCpu: byId('u-max-cpu'),
      maxMemoryMb: byId('u-max-memory'),
    },
    errors: {
      name: byId('u-name-error'),
      maxApps: byId('u-max-apps-error'),
      maxDatabases: byId('u-max-databases-error'),
      maxCpu: byId('u-max-cpu-error'),
      maxMemoryMb: byId('u-max-memory-error'),
    },
    created: byId('user-created'),
  },
  message: byId('account-message'),
});
const nodes = createNodesView({
  section: byId('nodes'),
  closeButton: byId('nodes-close'),
  list: byId('nodes-body'),
  message: byId('nodes-message'),
});
const manage = createManagePanel({ follow: (job, heading) => follow(job, heading) });
const terminal = createTerminalView({ column: document.querySelector('.main-column') });
const apps = createAppsTable({
  table: byId('apps-table'),
  body: byId('apps-body'),
  empty: byId('apps-empty'),
  onLogs: showLogs,
  onMetrics: showMetrics,
  onManage: showManage,
  onDomains: showDomains,
  onTerminal: (name) => terminal.open(api, name),
  onRestart: restartApp,
  onDelete: deleteApp,
});

/** The status line under the apps; `problem` shows it as an error. */
function say(text, problem = false) {
  ui.actionMessage.textContent = text;
  ui.actionMessage.classList.toggle('problem', problem);
}

// ---- session ----

async function signIn(token, { remembered = false } = {}) {
  ui.tokenError.textContent = '';
  const candidate = createApi(token, {
    onUnauthorized: () => signOut('Your token is no longer accepted. Sign in again.'),
  });
  let me;
  try {
    me = await createApi(token).me();
  } catch (err) {
    const refused = err instanceof ApiError && err.status === 401;
    if (remembered && refused) forgetToken();
    showSignIn(refused ? 'That token was not accepted.' : `Could not sign in: ${err.message}`);
    return;
  }
  storeToken(token);
  api = candidate;
  ui.token.value = '';
  ui.userName.textContent = String(me.user?.name ?? '');
  ui.userRole.textContent = String(me.user?.role ?? '');
  // The nodes are for admins (GET /nodes needs the admin scope: a member would get 403).
  byId('nodes-open').hidden = me.user?.role !== 'admin';
  ui.signIn.hidden = true;
  ui.whoami.hidden = false;
  ui.workspace.hidden = false;
  await refreshApps();
}

function showSignIn(message = '') {
  ui.signIn.hidden = false;
  ui.whoami.hidden = true;
  ui.workspace.hidden = true;
  ui.tokenError.textContent = message;
  ui.token.focus();
}

function signOut(message = '') {
  api = undefined;
  clearTimeout(refreshTimer);
  forgetToken();
  jobs.reset();
  logs.reset();
  metrics.reset();
  domains.reset();
  account.reset();
  nodes.reset();
  manage.reset();
  terminal.reset();
  apps.clear();
  say('');
  clearFieldErrors();
  ui.createForm.reset();
  showSignIn(message);
}

// ---- the apps list ----

async function refreshApps() {
  clearTimeout(refreshTimer);
  const current = api;
  if (!current) return;
  try {
    const { apps: list } = await current.listApps();
    if (current !== api) return;
    apps.update(list);
    ui.appsError.textContent = '';
    ui.appsUpdated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    if (current !== api) return;
    ui.appsError.textContent = `Could not list the apps: ${err.message}`;
  }
  if (current === api) refreshTimer = setTimeout(refreshApps, refreshMs);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && api) refreshApps();
});

// ---- actions ----

async function follow(job, heading) {
  if (!job?.id) return;
  const done = await jobs.follow(api, job.id, heading);
  await refreshApps();
  return done;
}

function showLogs(name) {
  logs.follow(api, name);
  byId('logs').scrollIntoView({ block: 'nearest' });
}

function showMetrics(name) {
  metrics.follow(api, name);
  byId('metrics').scrollIntoView({ block: 'nearest' });
}

function showManage(name) {
  manage.show(api, name);
  byId('manage').scrollIntoView({ block: 'nearest' });
}

function showNodes() {
  nodes.show(api);
  byId('nodes').scrollIntoView({ block: 'nearest' });
}

function showAccount() {
  account.show(api);
  byId('account').scrollIntoView({ block: 'nearest' });
}

function showDomains(name) {
  domains.show(api, name);
  byId('domains').scrollIntoView({ block: 'nearest' });
}

async function restartApp(name) {
  say(`Restarting ${name}…`);
  try {
    const { job } = await api.restartApp(name);
    say(`Restart of ${name} enqueued.`);
    const done = await follow(job, `Restart of ${name}`);
    if (done) say(`Restart of ${name}: ${done.state}.`, done.state !== 'completed');
  } catch (err) {
    say(`Could not restart ${name}: ${err.message}`, true);
  }
}

async function deleteApp(name) {
  if (
    !window.confirm(`Delete the app "${name}"? Its containers, releases and logs are removed. This cannot be undone.`)
  ) {
    say(`${name} was not deleted.`);
    return;
  }
  say(`Deleting ${name}…`);
  try {
    const { job } = await api.deleteApp(name);
    const done = await follow(job, `Deletion of ${name}`);
    if (done)
      say(
        done.state === 'completed' ? `${name} was deleted.` : `Deleting ${name} failed: ${done.error ?? done.state}`,
        done.state !== 'completed',
      );
  } catch (err) {
    say(`Could not delete ${name}: ${err.message}`, true);
  }
}

// ---- the create form ----

function fieldElement(field) {
  return byId(`f-${field}`);
}

function clearFieldErrors() {
  for (const field of formFields) {
    byId(`f-${field}-error`).textContent = '';
    fieldElement(field).removeAttribute('aria-invalid');
  }
  ui.createError.textContent = '';
}

function showFieldErrors(byField) {
  let first;
  for (const [field, message] of Object.entries(byField)) {
    byId(`f-${field}-error`).textContent = message;
    fieldElement(field).setAttribute('aria-invalid', 'true');
    first ??= fieldElement(field);
  }
  first?.focus();
}

async function createApp(event) {
  event.preventDefault();
  clearFieldErrors();
  const values = Object.fromEntries(new FormData(ui.createForm));
  const { body, errors } = formToRequest(values);
  if (Object.keys(errors).length > 0) return showFieldErrors(errors);
  ui.createSubmit.disabled = true;
  try {
    const { app, job } = await api.createApp(body);
    ui.createForm.reset();
    say(`${app.name} is being deployed.`);
    await refreshApps();
    logs.follow(api, app.name);
    const done = await follow(job, `Deploy of ${app.name}`);
    if (done)
      say(
        done.state === 'completed'
          ? `${app.name} is live at ${app.url}`
          : `The deploy of ${app.name} failed: ${done.error ?? done.state} ${cloneAdvice(done.error)}`.trim(),
        done.state !== 'completed',
      );
  } catch (err) {
    if (err instanceof ApiError && err.status === 400 && Object.keys(err.fields).length > 0) {
      const { byField, other } = placeFieldErrors(err.fields);
      showFieldErrors(byField);
      ui.createError.textContent = other.length > 0 ? other.join('; ') : 'Please correct the fields marked above.';
    } else if (err instanceof ApiError && err.code === 'APP_EXISTS') {
      // App names are one namespace for every user: the app may be someone else's, not in this list.
      showFieldErrors({
        name: `${body.name} is taken: choose another name (if it is your app, change it with its Manage button).`,
      });
    } else {
      ui.createError.textContent = `Could not create the app: ${err.message}`;
    }
  } finally {
    ui.createSubmit.disabled = false;
  }
}

// ---- start ----

/** The create form's runtimes. The page waits for them, but never more than 10 s: then it offers node. */
async function loadRuntimes() {
  try {
    const res = await fetch('settings.json', { credentials: 'omit', signal: AbortSignal.timeout(10_000) });
    const { runtimes } = await res.json();
    ui.runtime.replaceChildren(...runtimes.map((name) => h('option', { value: name }, String(name))));
  } catch (err) {
    console.error(`Could not load the runtimes (${err.message}): the form offers node only.`);
    ui.runtime.replaceChildren(h('option', { value: 'node' }, 'node'));
  }
}

ui.signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.token.value.trim();
  if (!token) return showSignIn('Enter a token.');
  signIn(token);
});
ui.signOut.addEventListener('click', () => signOut('Signed out.'));
byId('account-open').addEventListener('click', showAccount);
byId('nodes-open').addEventListener('click', showNodes);
ui.createForm.addEventListener('submit', createApp);

await loadRuntimes();
const remembered = storedToken();
if (remembered) await signIn(remembered, { remembered: true });
else showSignIn();
document.body.dataset.ready = 'true';
