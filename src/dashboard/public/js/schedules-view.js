import { ApiError } from './api.js';
import { h, markField } from './dom.js';
import { seconds, shortDate } from './format.js';
import { showRows, statusLine, tabHandle } from './tab.js';

/**
 * How a run ended, in words: a skipped tick's reason, a failure's error, a timeout. Pure: tested
 * in test/dashboard/app-actions.unit.test.ts.
 */
export function runNote(run) {
  if (run.reason) return String(run.reason);
  if (run.error) return String(run.error);
  return run.timedOut ? 'killed at the time limit' : '';
}

const waiting = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

/**
 * A run's state in words (the API gives BullMQ's): a command that exited non-zero failed, though
 * its job completed. Pure.
 */
export function runState(run) {
  if (run.state === 'completed') return run.exitCode === 0 ? 'succeeded' : 'failed';
  if (run.state === 'active') return 'running';
  return waiting.has(run.state) ? 'queued' : String(run.state);
}

/** The `POST /apps/:name/schedules` body from the form: empty optional fields left out. Pure. */
export function scheduleRequest(values) {
  const timezone = values.timezone.trim();
  return {
    schedule: values.schedule.trim(),
    command: values.command.trim(),
    ...(timezone ? { timezone } : {}),
    overlap: values.overlap,
  };
}

/**
 * An app's schedules, as `gasper schedules` has them: commands run on a cron schedule, each in a
 * new container of the app's current release. Add one (a 400 shown under the input it names),
 * see each one's next run, its latest runs with how each ended and its last lines of output,
 * and remove one.
 */
export function createSchedulesView({ list, empty, form, inputs, errors, runs, message }) {
  let api;
  let app;
  const say = statusLine(message);

  function clearMarks() {
    for (const key of Object.keys(errors)) markField(inputs[key], errors[key], '');
  }

  function row(s) {
    const id = String(s.id);
    return h(
      'tr',
      { 'data-schedule': id },
      h('th', { scope: 'row', 'data-label': 'Schedule' }, h('code', {}, String(s.schedule))),
      h('td', { 'data-label': 'Command' }, h('code', {}, String(s.command))),
      h('td', { 'data-label': 'Time zone' }, String(s.timezone)),
      h('td', { 'data-label': 'Next run', class: 'next-run' }, shortDate(s.nextRunAt, true)),
      h(
        'td',
        { 'data-label': 'Actions', class: 'actions' },
        h(
          'div',
          { class: 'buttons' },
          h(
            'button',
            { type: 'button', 'aria-label': `Show runs of ${s.command}`, onclick: () => showRuns(s) },
            'Runs',
          ),
          h(
            'button',
            { type: 'button', class: 'danger', 'aria-label': `Remove schedule ${s.command}`, onclick: () => remove(s) },
            'Remove',
          ),
        ),
      ),
    );
  }

  async function refresh() {
    const [client, name] = [api, app];
    try {
      const { schedules } = await client.listSchedules(name);
      if (client !== api || name !== app) return;
      showRows(list, empty, schedules.map(row));
    } catch (err) {
      if (client === api && name === app) say(`Could not list the schedules of ${name}: ${err.message}`, true);
    }
  }

  async function add(event) {
    event.preventDefault();
    clearMarks();
    say('');
    const body = scheduleRequest(Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value])));
    if (!body.schedule) return markField(inputs.schedule, errors.schedule, "Give a cron schedule, e.g. '0 3 * * *'.");
    if (!body.command)
      return markField(inputs.command, errors.command, 'Give the command to run, e.g. npm run report.');
    try {
      const { schedule: s } = await api.addSchedule(app, body);
      form.reset();
      say(`Schedule added: ${s.command} at ${s.schedule} (${s.timezone}); next run ${shortDate(s.nextRunAt, true)}.`);
      await refresh();
    } catch (err) {
      const fields = err instanceof ApiError ? Object.entries(err.fields).filter(([f]) => inputs[f]) : [];
      for (const [field, problem] of fields) markField(inputs[field], errors[field], problem);
      say(
        fields.length ? 'Please correct the fields marked above.' : `Could not add the schedule: ${err.message}`,
        true,
      );
    }
  }

  async function remove(s) {
    if (!window.confirm(`Remove the schedule of ${s.command} (${s.schedule})? A run already going finishes.`)) return;
    try {
      await api.removeSchedule(app, s.id);
      say(`Schedule of ${s.command} removed: it runs no more.`);
      if (runs.section.dataset.schedule === s.id) runs.section.hidden = true;
      await refresh();
    } catch (err) {
      say(`Could not remove the schedule: ${err.message}`, true);
    }
  }

  function runRow(run) {
    const output = run.output?.length
      ? h('details', {}, h('summary', {}, 'Output'), h('pre', {}, run.output.join('\n')))
      : '';
    return h(
      'tr',
      { 'data-state': String(run.state) },
      h('th', { scope: 'row', 'data-label': 'Queued' }, shortDate(run.queuedAt, true)),
      h('td', { 'data-label': 'State' }, runState(run)),
      h(
        'td',
        { 'data-label': 'Exit' },
        run.exitCode === null || run.exitCode === undefined ? '—' : String(run.exitCode),
      ),
      h('td', { 'data-label': 'Took' }, seconds(run.durationMs)),
      h('td', { 'data-label': 'Note', class: 'run-note' }, runNote(run), output),
    );
  }

  async function showRuns(s) {
    const client = api;
    const shown = app;
    try {
      const body = await client.scheduleRuns(shown, s.id);
      // Another app chosen meanwhile: its panel is not this one's.
      if (client !== api || shown !== app) return;
      runs.section.hidden = false;
      runs.section.dataset.schedule = String(s.id);
      runs.title.textContent = `Runs of ${s.command}`;
      showRows(runs.list, runs.empty, body.runs.map(runRow));
    } catch (err) {
      say(`Could not list the runs: ${err.message}`, true);
    }
  }

  form.addEventListener('submit', add);

  return tabHandle({
    bind(client, name) {
      api = client;
      app = name;
    },
    clear() {
      list.replaceChildren();
      form.reset();
      runs.section.hidden = true;
      delete runs.section.dataset.schedule;
      runs.list.replaceChildren();
      clearMarks();
      say('');
    },
    load: refresh,
  });
}
