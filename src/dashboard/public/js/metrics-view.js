import { h } from './dom.js';
import { chartMax, createChart } from './metrics-chart.js';
import { createSseParser } from './sse.js';

/** Samples drawn per chart: the API keeps 60 by default (GASPER_METRICS_HISTORY). */
const slots = 60;
const reconnectMs = 2000;
const mib = 1024 * 1024;

const percentText = (value) => (typeof value === 'number' ? `${Math.round(value * 10) / 10}%` : '–');

/**
 * Live CPU and memory of an app's instances, two small charts each, fed by
 * `GET /apps/:name/metrics?follow=1` (server-sent events read with fetch(), as the logs are:
 * EventSource cannot send the Authorization header). The first event is the recent history; a
 * reconnection starts again from it.
 */
export function createMetricsView({ section, title, status, charts, stopButton }) {
  let controller;
  /** Instance name → {samples, cpu, memory, element}. */
  const instances = new Map();

  function shortName(app, instance) {
    // Containers are named gasper-<installation>-<app>-<release>-<n>: the release and instance number tell them apart.
    const prefix = instance.match(/^gasper-[0-9a-f]{8}-/)?.[0] ?? 'gasper-';
    return instance.startsWith(`${prefix}${app}-`) ? instance.slice(`${prefix}${app}-`.length) : instance;
  }

  function entry(app, instance, node) {
    let found = instances.get(instance);
    if (found) return found;
    const cpu = createChart('CPU');
    const memory = createChart('Memory');
    const element = h(
      'div',
      { class: 'instance-metrics', 'data-instance': instance },
      h('h3', {}, `${shortName(app, instance)}${node ? ` on ${node}` : ''}`),
      h('div', { class: 'chart-pair' }, cpu.element, memory.element),
    );
    found = { samples: [], cpu, memory, element };
    instances.set(instance, found);
    const sorted = [...instances.keys()].sort();
    charts.insertBefore(element, instances.get(sorted[sorted.indexOf(instance) + 1])?.element ?? null);
    return found;
  }

  function draw(item) {
    const last = item.samples.at(-1);
    const cpuValues = item.samples.map((s) => s.cpu?.percent ?? null);
    const memoryValues = item.samples.map((s) => s.memory?.percent ?? null);
    const cores = last?.cpu ? ` (${Math.round(last.cpu.cores * 100) / 100} of ${last.cpu.limitCores} cores)` : '';
    // An instance can briefly go over its CPU limit: the chart grows rather than cut the line.
    item.cpu.update(cpuValues, {
      slots,
      max: chartMax(cpuValues, 100),
      text: `${percentText(last?.cpu?.percent)}${cores}`,
    });
    const used = last?.memory
      ? ` (${Math.round(last.memory.usageBytes / mib)} of ${Math.round(last.memory.limitBytes / mib)} MiB)`
      : '';
    item.memory.update(memoryValues, { slots, max: 100, text: `${percentText(last?.memory?.percent)}${used}` });
  }

  function remove(instance) {
    instances.get(instance)?.element.remove();
    instances.delete(instance);
  }

  function handle(app, event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    if (event.type === 'instances') {
      for (const name of [...instances.keys()]) remove(name);
      for (const instance of data.instances ?? []) {
        const item = entry(app, String(instance.instance), String(instance.node ?? ''));
        item.samples = (instance.samples ?? []).slice(-slots);
        draw(item);
      }
      status.textContent = instances.size
        ? `Live CPU and memory of ${app}.`
        : `No samples of ${app} yet: they come every few seconds from running instances.`;
    } else if (event.type === 'removed') {
      for (const instance of data.removed ?? []) remove(String(instance));
    } else if (event.type === 'message' && data.sample) {
      const item = entry(app, String(data.instance), String(data.node ?? ''));
      item.samples.push(data.sample);
      if (item.samples.length > slots) item.samples.splice(0, item.samples.length - slots);
      draw(item);
      status.textContent = `Live CPU and memory of ${app}.`;
    }
  }

  async function run(api, name, signal) {
    let ended = false;
    while (!signal.aborted && !ended) {
      try {
        const res = await api.followMetrics(name, { signal });
        if (!res.ok || !res.body) {
          const body = await res.json().catch(() => ({}));
          status.textContent = `Cannot follow the metrics of ${name}: ${body.message ?? `HTTP ${res.status}`}`;
          return;
        }
        const parser = createSseParser((event) => {
          if (event.type === 'end') {
            ended = true;
            status.textContent = `The metrics of ${name} ended: the app was deleted.`;
            return;
          }
          handle(name, event);
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.push(value);
        }
      } catch (err) {
        if (signal.aborted) return;
        status.textContent = `Metrics stream interrupted (${err.message}); reconnecting…`;
      }
      if (!ended && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, reconnectMs));
    }
  }

  const view = {
    follow(api, name) {
      view.stop();
      controller = new AbortController();
      for (const instance of [...instances.keys()]) remove(instance);
      section.hidden = false;
      section.dataset.app = name;
      title.textContent = `Metrics of ${name}`;
      status.textContent = `Connecting to the metrics of ${name}…`;
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
      for (const instance of [...instances.keys()]) remove(instance);
    },
  };
  stopButton.addEventListener('click', () => view.stop());
  return view;
}
