import { h } from './dom.js';
import { createSseParser } from './sse.js';

const maxLines = 1000;
const reconnectMs = 2000;

/**
 * Live app logs: `GET /apps/:name/logs?follow=1` is server-sent events, read with fetch() and a
 * stream reader because EventSource cannot send the Authorization header. A dropped stream is
 * resumed with `Last-Event-ID` (no gap, no repeat); `event: end` (the app was deleted) ends it.
 */
export function createLogView({ section, title, status, list, stopButton }) {
  let controller;

  function append(app, line) {
    const time = String(line.timestamp ?? '').replace(/^.*T(\d\d:\d\d:\d\d).*$/, '$1');
    // Containers are named gasper-<installation>-<app>-<release>-<n>: the release and instance number tell them apart.
    const container = String(line.instance ?? '');
    const prefix = container.match(/^gasper-[0-9a-f]{8}-/)?.[0] ?? 'gasper-';
    const instance = container.startsWith(`${prefix}${app}-`)
      ? container.slice(`${prefix}${app}-`.length)
      : container.slice(0, 12);
    list.append(
      h(
        'li',
        { class: line.stream === 'stderr' ? 'stderr' : undefined },
        h('span', { class: 'meta' }, `${time} ${instance} `),
        String(line.text ?? ''),
      ),
    );
    while (list.children.length > maxLines) list.firstElementChild?.remove();
    list.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }

  async function run(api, name, signal) {
    let lastEventId;
    let ended = false;
    while (!signal.aborted && !ended) {
      let parser;
      try {
        const res = await api.followLogs(name, { signal, lastEventId });
        if (!res.ok || !res.body) {
          const body = await res.json().catch(() => ({}));
          status.textContent = `Cannot follow the logs of ${name}: ${body.message ?? `HTTP ${res.status}`}`;
          return;
        }
        status.textContent = `Following the logs of ${name}.`;
        parser = createSseParser((event) => {
          if (event.type === 'end') {
            ended = true;
            const reason = (() => {
              try {
                return JSON.parse(event.data).reason;
              } catch {
                return undefined;
              }
            })();
            status.textContent = `The log stream of ${name} ended${reason ? `: ${reason}` : ''}.`;
            return;
          }
          try {
            append(name, JSON.parse(event.data));
          } catch {
            // not a log line: skip it
          }
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.push(value);
        }
      } catch (err) {
        if (signal.aborted) return;
        status.textContent = `Log stream interrupted (${err.message}); reconnecting…`;
      }
      lastEventId = parser?.lastEventId || lastEventId;
      if (!ended && !signal.aborted && !status.textContent.startsWith('Log stream interrupted')) {
        status.textContent = `The log stream of ${name} closed; reconnecting…`;
      }
      if (!ended && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, reconnectMs));
    }
  }

  const view = {
    follow(api, name) {
      view.stop();
      controller = new AbortController();
      section.hidden = false;
      section.dataset.app = name;
      title.textContent = `Logs of ${name}`;
      list.replaceChildren();
      status.textContent = `Connecting to the logs of ${name}…`;
      stopButton.disabled = false;
      const signal = controller.signal;
      run(api, name, signal).finally(() => {
        if (!signal.aborted) stopButton.disabled = true;
      });
    },
    stop() {
      if (!controller) return;
      controller.abort();
      controller = undefined;
      stopButton.disabled = true;
      status.textContent = 'Stopped following.';
    },
    reset() {
      view.stop();
      section.hidden = true;
      list.replaceChildren();
    },
  };
  stopButton.addEventListener('click', () => view.stop());
  return view;
}
