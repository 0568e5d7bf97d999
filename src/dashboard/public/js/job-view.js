import { h } from './dom.js';

const finished = new Set(['completed', 'failed']);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The job panel: polls `GET /jobs/:id` and shows its progress bar, step, state and log lines
 * as they come. Following a new job stops following the previous one.
 */
export function createJobView(elements, { intervalMs = 500 } = {}) {
  const { section, title, progress, percent, step, state, error, log } = elements;
  let generation = 0;

  function render(job) {
    const value = Math.max(0, Math.min(100, Number(job.progress?.percent) || 0));
    progress.value = value;
    percent.textContent = `${value}%`;
    step.textContent = String(job.progress?.step ?? '');
    state.textContent = String(job.state ?? '');
    section.dataset.state = String(job.state ?? '');
    error.textContent = job.error ? String(job.error) : '';
    const lines = Array.isArray(job.log) ? job.log : [];
    // The log only grows: append what is new rather than redraw it.
    for (const line of lines.slice(log.children.length)) log.append(h('li', {}, String(line)));
    if (lines.length > 0) log.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }

  return {
    /** Follows the job until it finishes; resolves with its last view (undefined if superseded). */
    async follow(api, id, heading) {
      const mine = ++generation;
      section.hidden = false;
      title.textContent = heading;
      section.dataset.job = id;
      log.replaceChildren();
      error.textContent = '';
      render({ progress: { percent: 0, step: 'waiting' }, state: 'waiting', log: [] });
      let failures = 0;
      while (mine === generation) {
        try {
          const { job } = await api.job(id);
          if (mine !== generation) return undefined;
          failures = 0;
          render(job);
          if (finished.has(job.state)) return job;
        } catch (err) {
          // A 404 is final (the job expired); anything else may pass, so retry a few times.
          if (err?.status === 404 || err?.status === 401 || ++failures > 5) {
            if (mine === generation) error.textContent = `Could not follow the job: ${err.message}`;
            return undefined;
          }
        }
        await sleep(intervalMs);
      }
      return undefined;
    },
    stop() {
      generation++;
    },
    reset() {
      generation++;
      section.hidden = true;
      log.replaceChildren();
    },
  };
}
