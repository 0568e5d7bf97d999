import { ApiError } from './api.js';
import { h, markField } from './dom.js';
import { redeployNote } from './format.js';
import { statusLine, tabHandle } from './tab.js';

const lines = (text) =>
  String(text ?? '')
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter(Boolean);
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * The `PATCH /apps/:name` body that turns the app (as `GET /apps/:name` shows it) into the Build
 * tab's values: only what differs. An emptied build or run command, Dockerfile or health path
 * goes back to what Gasper decides (`null`; `healthCheck: {}`). Pure: tested in
 * test/dashboard/app-actions.unit.test.ts.
 */
export function buildChange(app, values) {
  const change = {};
  if (values.runtime && values.runtime !== (app.runtime ?? '')) change.runtime = values.runtime;
  if (values.builder !== (app.builder ?? 'auto')) change.builder = values.builder;
  const path = values.dockerfile.trim();
  const context = values.context.trim();
  const dockerfile = path || context ? { ...(path ? { path } : {}), ...(context ? { context } : {}) } : null;
  if (!same(dockerfile, app.dockerfile)) change.dockerfile = dockerfile;
  const build = lines(values.build);
  if (!same(build.length ? build : null, app.build)) change.build = build.length ? build : null;
  const run = values.run.trim() || null;
  if (run !== (app.run ?? null)) change.run = run;
  const health = values.health.trim() || null;
  if (health !== (app.scale?.healthCheck?.path ?? null)) change.healthCheck = health ? { path: health } : {};
  return change;
}

/**
 * How the app is built and run, as `gasper apps update` changes it: runtime, builder, Dockerfile
 * and context, build and run commands, health check path. Save sends only what changed; a
 * redeploy it queues is followed in the job panel. A 400 is shown under the input it names.
 */
export function createBuildView({ form, inputs, errors, runtimes, message, follow }) {
  let api;
  let app;
  let current;
  const say = statusLine(message);
  const field = {
    runtime: 'runtime',
    builder: 'builder',
    dockerfile: 'dockerfile',
    'dockerfile.path': 'dockerfile',
    'dockerfile.context': 'context',
    build: 'build',
    run: 'run',
    healthCheck: 'health',
    'healthCheck.path': 'health',
  };

  function clearMarks() {
    for (const key of Object.keys(errors)) markField(inputs[key], errors[key], '');
  }

  function render(doc) {
    current = doc;
    // The runtimes the platform has (the create form's list), and "none" for an app built from its Dockerfile only.
    inputs.runtime.replaceChildren(
      ...(doc.runtime ? [] : [h('option', { value: '' }, 'none (built from its Dockerfile)')]),
      ...[...runtimes.options].map((o) => h('option', { value: o.value }, o.value)),
    );
    inputs.runtime.value = doc.runtime ?? '';
    inputs.builder.value = doc.builder ?? 'auto';
    inputs.dockerfile.value = doc.dockerfile?.path ?? '';
    inputs.context.value = doc.dockerfile?.context ?? '';
    inputs.build.value = (doc.build ?? []).join('\n');
    inputs.run.value = doc.run ?? '';
    inputs.health.value = doc.scale?.healthCheck?.path ?? '';
  }

  async function refresh() {
    const [client, name] = [api, app];
    try {
      const body = await client.getApp(name);
      if (client === api && name === app) render(body.app);
    } catch (err) {
      if (client === api && name === app) say(`Could not read the build settings of ${name}: ${err.message}`, true);
    }
  }

  async function save(event) {
    event.preventDefault();
    clearMarks();
    say('');
    const change = buildChange(current, Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value])));
    if (!Object.keys(change).length) return say('Nothing changed.');
    try {
      const body = await api.updateApp(app, change);
      render(body.app);
      say(`${app}: ${redeployNote(body)}.`);
      if (body.job?.id) follow(body.job, `Redeploy of ${app} with its new build settings`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && Object.keys(err.fields).length > 0) {
        const other = [];
        for (const [name, problem] of Object.entries(err.fields)) {
          const key = field[name] ?? field[name.split('.')[0]];
          if (key) markField(inputs[key], errors[key], problem);
          else other.push(`${name}: ${problem}`);
        }
        say(other.length ? other.join('; ') : 'Please correct the fields marked above.', true);
      } else say(`Could not change the build settings of ${app}: ${err.message}`, true);
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
      say('');
    },
    load: refresh,
  });
}
