import { h } from './dom.js';
import { byteSize, shortDate } from './format.js';
import { statusLine } from './tab.js';

/** `1.5 of 4`: what placement reserved of what a node has. */
const share = (reserved, capacity, unit) =>
  capacity === undefined ? '—' : `${unit(reserved ?? 0)} of ${unit(capacity)}`;
const cpus = (n) => String(Math.round(n * 100) / 100);

/**
 * The disk this installation takes on a node, in words by category (`GET /nodes` `diskUse`).
 * Pure: tested in test/dashboard/app-actions.unit.test.ts.
 */
export function diskUseWords(disk) {
  if (!disk) return 'not measured yet';
  return [
    `releases ${byteSize(disk.releasesBytes)}`,
    `images ${byteSize(disk.imagesBytes)}`,
    `build caches ${byteSize(disk.cachesBytes)}`,
    `containers ${byteSize(disk.containersBytes)}`,
    `volumes ${byteSize(disk.volumesBytes)}`,
    ...(disk.logsBytes === undefined ? [] : [`logs ${byteSize(disk.logsBytes)}`]),
  ].join(', ');
}

/**
 * The nodes, for admins, as `gasper nodes`: state, what placement reserved, free disk and
 * Gasper's disk use by category, what runs there; **Drain** (asked first) and **Undrain**.
 */
export function createNodesView({ section, closeButton, list, message }) {
  let api;
  const say = statusLine(message);

  function row(node) {
    const action = node.draining
      ? h('button', { type: 'button', onclick: () => undrain(node.id) }, 'Undrain')
      : h('button', { type: 'button', class: 'danger', onclick: () => drain(node.id) }, 'Drain');
    return h(
      'tr',
      { 'data-node': node.id },
      h('td', {}, h('strong', {}, node.id), h('div', { class: 'help' }, node.address)),
      h('td', {}, `${node.state}${node.draining ? ', draining' : ''}`),
      h('td', {}, share(node.reserved?.cpu, node.capacity?.cpus, cpus)),
      h('td', {}, share(node.reserved?.memoryBytes, node.capacity?.memoryBytes, byteSize)),
      h(
        'td',
        {},
        node.usage?.diskFreeBytes === undefined ? '—' : `${byteSize(node.usage.diskFreeBytes)} free`,
        h('div', { class: 'help' }, `Gasper: ${diskUseWords(node.diskUse)}`),
      ),
      h('td', {}, [...(node.apps ?? []), ...(node.databases ?? []).map((d) => `${d} (database)`)].join(', ') || '—'),
      h('td', {}, action),
    );
  }

  async function refresh() {
    const { nodes } = await api.listNodes();
    list.replaceChildren(...nodes.map(row));
  }

  async function drain(id) {
    if (!window.confirm(`Drain ${id}? Nothing new is placed there and its apps are redeployed on other nodes.`)) return;
    try {
      const body = await api.drainNode(id);
      const moved = (body.moved ?? []).map((m) => `${m.app} to ${m.to}`);
      const stays = (body.staying ?? []).map((s) => (s.database ? `database ${s.database}` : `app ${s.app}`));
      say(
        `${id} draining.${moved.length ? ` Moved: ${moved.join(', ')}.` : ''}${stays.length ? ` Staying (their data is there): ${stays.join(', ')}.` : ''}`,
      );
      await refresh();
    } catch (err) {
      say(`Could not drain ${id}: ${err.message}`, true);
    }
  }

  async function undrain(id) {
    try {
      await api.undrainNode(id);
      say(`${id}: new apps may be placed there again.`);
      await refresh();
    } catch (err) {
      say(`Could not undrain ${id}: ${err.message}`, true);
    }
  }

  function reset() {
    section.hidden = true;
    list.replaceChildren();
    say('');
  }
  closeButton.addEventListener('click', reset);

  return {
    async show(client) {
      reset();
      api = client;
      section.hidden = false;
      try {
        await refresh();
        say(`Updated ${shortDate(new Date().toISOString())}.`);
      } catch (err) {
        say(`Could not list the nodes: ${err.message}`, true);
      }
    },
    reset,
  };
}
