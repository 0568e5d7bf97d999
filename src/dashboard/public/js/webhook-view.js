import { shortDate } from './format.js';

/**
 * What the Source tab says about the app's push webhook (`GET /apps/:name` `webhook`). Pure:
 * tested in test/dashboard/app-actions.unit.test.ts.
 */
export function webhookState(webhook) {
  if (!webhook) return 'Pushes do not deploy the app yet: set up a GitHub webhook to deploy each push to its branch.';
  const last = webhook.lastPushAt
    ? `the newest push deployed reached GitHub ${shortDate(webhook.lastPushAt)}`
    : 'no push deployed yet';
  return `A GitHub webhook deploys each push to the app's branch: set up ${shortDate(webhook.createdAt)}, ${last}.`;
}

/**
 * The Source tab's "Deploy on push" part, as `gasper webhook create|remove`: `POST
 * /apps/:name/webhook` answers the payload URL and a secret shown this once, which the page shows
 * beside GitHub's field names until the tab is left; again, it rotates the secret (asked first:
 * deliveries fail until GitHub has the new one). `warning`: the API's word that GitHub cannot
 * reach the URL.
 */
export function createWebhookSection({ state, create, remove, setup, fields, warning, say }) {
  let api;
  let app;
  let current;

  function render(webhook) {
    current = webhook ?? null;
    state.textContent = webhookState(current);
    create.textContent = current ? 'Rotate the secret' : 'Set up push deploys';
    remove.hidden = !current;
  }

  function hideSetup() {
    setup.hidden = true;
    for (const field of Object.values(fields)) field.textContent = '';
    warning.textContent = '';
  }

  async function createWebhook() {
    const rotating = !!current;
    if (
      rotating &&
      !window.confirm(
        `Rotate the webhook secret of ${app}? The current one stops working at once: pushes do not deploy until GitHub has the new one.`,
      )
    )
      return;
    try {
      const created = await api.createWebhook(app);
      fields.url.textContent = created.url;
      fields.contentType.textContent = created.contentType;
      fields.secret.textContent = created.secret;
      warning.textContent = created.warning ?? '';
      setup.hidden = false;
      render({ createdAt: created.createdAt, lastPushAt: null });
      say(
        rotating
          ? `${app}: the webhook secret was rotated. Paste the new one into GitHub (shown this once).`
          : `${app}: push webhook ready. Add it on GitHub with the fields below (the secret is shown this once).`,
      );
    } catch (err) {
      say(`Could not set up the webhook of ${app}: ${err.message}`, true);
    }
  }

  async function removeWebhook() {
    if (!window.confirm(`Remove the push webhook of ${app}? Pushes stop deploying it.`)) return;
    try {
      await api.removeWebhook(app);
      hideSetup();
      render(null);
      say(`${app}: push webhook removed. Remove it on GitHub too: its deliveries now get 404.`);
    } catch (err) {
      say(`Could not remove the webhook of ${app}: ${err.message}`, true);
    }
  }

  create.addEventListener('click', createWebhook);
  remove.addEventListener('click', removeWebhook);

  return {
    bind(client, name) {
      api = client;
      app = name;
    },
    render,
    clear() {
      current = null;
      hideSetup();
      state.textContent = '';
    },
  };
}
