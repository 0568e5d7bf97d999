import { createBuildView } from './build-view.js';
import { byId } from './dom.js';
import { createDatabasesView } from './databases-view.js';
import { createEnvView } from './env-view.js';
import { createReleasesView } from './releases-view.js';
import { createRepoView } from './repo-view.js';
import { createScaleView } from './scale-view.js';
import { createSchedulesView } from './schedules-view.js';
import { createVolumesView } from './volumes-view.js';

/**
 * The "Manage" panel of one app: tabs for its environment, processes, releases, databases,
 * source (repository, branch, folder), build settings, volumes and schedules, each a view of its own.
 * `follow(job, heading)` shows a job they queue in the job panel.
 */
export function createManagePanel({ follow }) {
  const section = byId('manage');
  const title = byId('manage-title');
  const tabs = [...section.querySelectorAll('[role="tab"]')];
  const views = {
    env: createEnvView({
      list: byId('env-list'),
      empty: byId('env-empty'),
      form: byId('env-form'),
      key: byId('env-key'),
      keyError: byId('env-key-error'),
      value: byId('env-value'),
      valueError: byId('env-value-error'),
      message: byId('env-message'),
      follow,
    }),
    scale: createScaleView({
      rows: byId('scale-rows'),
      form: byId('scale-form'),
      message: byId('scale-message'),
      follow,
    }),
    releases: createReleasesView({
      list: byId('releases-body'),
      empty: byId('releases-empty'),
      message: byId('releases-message'),
      follow,
    }),
    databases: createDatabasesView({
      list: byId('databases-body'),
      empty: byId('databases-empty'),
      message: byId('databases-message'),
      backups: {
        section: byId('backups'),
        title: byId('backups-title'),
        list: byId('backups-body'),
        empty: byId('backups-empty'),
      },
      follow,
    }),
    build: createBuildView({
      form: byId('build-form'),
      inputs: Object.fromEntries(
        ['runtime', 'builder', 'dockerfile', 'context', 'build', 'run', 'health'].map((k) => [k, byId(`b-${k}`)]),
      ),
      errors: Object.fromEntries(
        ['runtime', 'builder', 'dockerfile', 'context', 'build', 'run', 'health'].map((k) => [k, byId(`b-${k}-error`)]),
      ),
      runtimes: byId('f-runtime'),
      message: byId('build-message'),
      follow,
    }),
    volumes: createVolumesView({
      list: byId('volumes-body'),
      empty: byId('volumes-empty'),
      form: byId('volume-form'),
      inputs: { name: byId('v-name'), path: byId('v-path'), size: byId('v-size') },
      errors: { name: byId('v-name-error'), path: byId('v-path-error'), size: byId('v-size-error') },
      backups: {
        section: byId('volume-backups'),
        title: byId('volume-backups-title'),
        list: byId('volume-backups-body'),
        empty: byId('volume-backups-empty'),
      },
      removal: { form: byId('volume-delete-form'), input: byId('v-delete'), error: byId('v-delete-error') },
      message: byId('volumes-message'),
      follow,
    }),
    schedules: createSchedulesView({
      list: byId('schedules-body'),
      empty: byId('schedules-empty'),
      form: byId('schedule-form'),
      inputs: Object.fromEntries(['schedule', 'timezone', 'command', 'overlap'].map((k) => [k, byId(`s-${k}`)])),
      errors: Object.fromEntries(['schedule', 'timezone', 'command', 'overlap'].map((k) => [k, byId(`s-${k}-error`)])),
      runs: {
        section: byId('schedule-runs'),
        title: byId('schedule-runs-title'),
        list: byId('schedule-runs-body'),
        empty: byId('schedule-runs-empty'),
      },
      message: byId('schedules-message'),
    }),
    repo: createRepoView({
      form: byId('repo-form'),
      inputs: {
        url: byId('repo-url'),
        branch: byId('repo-branch'),
        path: byId('repo-path'),
        token: byId('repo-token-input'),
        username: byId('repo-username'),
        removeToken: byId('repo-token-remove'),
      },
      errors: {
        url: byId('repo-url-error'),
        branch: byId('repo-branch-error'),
        path: byId('repo-path-error'),
        token: byId('repo-token-error'),
        username: byId('repo-username-error'),
      },
      token: byId('repo-token'),
      rebuild: { form: byId('rebuild-form'), noCache: byId('rebuild-no-cache') },
      webhook: {
        state: byId('webhook-state'),
        create: byId('webhook-create'),
        remove: byId('webhook-remove'),
        setup: byId('webhook-setup'),
        fields: { url: byId('webhook-url'), contentType: byId('webhook-content-type'), secret: byId('webhook-secret') },
        warning: byId('webhook-warning'),
      },
      message: byId('repo-message'),
      follow,
    }),
  };
  let api;
  let app;

  /** Shows tab `name`'s panel and loads it afresh for the app. */
  function select(name) {
    for (const tab of tabs) {
      const selected = tab.dataset.tab === name;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      byId(tab.getAttribute('aria-controls')).hidden = !selected;
    }
    for (const [key, view] of Object.entries(views)) if (key !== name) view.reset();
    return api && app ? views[name].show(api, app) : undefined;
  }

  for (const [index, tab] of tabs.entries()) {
    tab.addEventListener('click', () => select(tab.dataset.tab));
    // Arrow keys move between tabs, as in any tab list.
    tab.addEventListener('keydown', (event) => {
      const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
      if (!step) return;
      const next = tabs[(index + step + tabs.length) % tabs.length];
      next.focus();
      select(next.dataset.tab);
    });
  }
  byId('manage-close').addEventListener('click', () => reset());

  function reset() {
    api = undefined;
    app = undefined;
    section.hidden = true;
    for (const view of Object.values(views)) view.reset();
  }

  return {
    /** Opens the panel for `name` on tab `tab` (default: the environment). */
    show(client, name, tab = 'env') {
      reset();
      api = client;
      app = name;
      title.textContent = `Manage ${name}`;
      section.hidden = false;
      return select(tab);
    },
    reset,
  };
}
