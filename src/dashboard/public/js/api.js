/** An error answer of the API: `{statusCode, code, message, fields?}`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.code ?? 'HTTP_ERROR';
    /** Field path → problem, for 400s. */
    this.fields = body?.fields ?? {};
  }
}

/**
 * A client of the API on this origin. The token goes in `Authorization: Bearer`, added by this
 * code only; `credentials: 'omit'` keeps cookies (the admin session's, say) out of every request.
 * `onUnauthorized` runs when the API stops accepting the token (revoked, rotated).
 */
export function createApi(token, { onUnauthorized = () => {}, fetch = globalThis.fetch, retryDelayMs = 250 } = {}) {
  const headers = (extra = {}) => ({ authorization: `Bearer ${token}`, accept: 'application/json', ...extra });

  /**
   * A GET that failed before any answer (fetch's TypeError) is asked once more: it changes
   * nothing, and such failures are often momentary. A browser on the Gasper host itself loses
   * every request in flight whenever Docker adds or removes an interface (ERR_NETWORK_CHANGED).
   * Other methods are never repeated: the first may have reached the API.
   */
  async function send(method, path, init) {
    try {
      return await fetch(path, init);
    } catch (err) {
      if (method !== 'GET' || !(err instanceof TypeError)) throw err;
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      return fetch(path, init);
    }
  }

  async function request(method, path, body) {
    const init = { method, headers: headers(), credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      init.headers = headers({ 'content-type': 'application/json' });
      init.body = JSON.stringify(body);
    }
    const res = await send(method, path, init);
    const parsed = await json(res);
    if (!res.ok) throw failure(res, parsed);
    return parsed;
  }

  async function json(res) {
    const text = await res.text();
    try {
      return text ? JSON.parse(text) : undefined;
    } catch {
      return undefined;
    }
  }

  function failure(res, parsed) {
    const error = new ApiError(res.status, parsed);
    if (res.status === 401) onUnauthorized(error);
    return error;
  }

  /**
   * A file the API serves (a backup), as a blob and the name the API gives it. A link cannot
   * fetch it: the token goes in a header, never in a URL.
   */
  async function download(path) {
    const init = { method: 'GET', headers: headers({ accept: '*/*' }), credentials: 'omit', cache: 'no-store' };
    const res = await send('GET', path, init);
    if (!res.ok) throw failure(res, await json(res));
    const filename = /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1];
    return { blob: await res.blob(), filename };
  }

  const app = (name) => `/apps/${encodeURIComponent(name)}`;
  const volume = (name, vol) => `${app(name)}/volumes/${encodeURIComponent(vol)}`;
  const schedule = (name, id) => `${app(name)}/schedules/${encodeURIComponent(id)}`;

  return {
    me: () => request('GET', '/users/me'),
    listTokens: () => request('GET', '/users/me/tokens'),
    createToken: (body) => request('POST', '/users/me/tokens', body),
    revokeToken: (id) => request('DELETE', `/users/me/tokens/${encodeURIComponent(id)}`),
    listUsers: () => request('GET', '/users'),
    listNodes: () => request('GET', '/nodes'),
    drainNode: (id) => request('POST', `/nodes/${encodeURIComponent(id)}/drain`),
    undrainNode: (id) => request('POST', `/nodes/${encodeURIComponent(id)}/undrain`),
    createUser: (body) => request('POST', '/users', body),
    deleteUser: (name) => request('DELETE', `/users/${encodeURIComponent(name)}`),
    listApps: () => request('GET', '/apps'),
    createApp: (body) => request('POST', '/apps', body),
    deleteApp: (name) => request('DELETE', `/apps/${encodeURIComponent(name)}`),
    restartApp: (name) => request('POST', `/apps/${encodeURIComponent(name)}/restart`),
    rebuildApp: (name, { cache }) => request('POST', `/apps/${encodeURIComponent(name)}/rebuild`, { cache }),
    createWebhook: (name) => request('POST', `/apps/${encodeURIComponent(name)}/webhook`),
    removeWebhook: (name) => request('DELETE', `/apps/${encodeURIComponent(name)}/webhook`),
    getApp: (name) => request('GET', `/apps/${encodeURIComponent(name)}`),
    updateApp: (name, body) => request('PATCH', `/apps/${encodeURIComponent(name)}`, body),
    listDomains: (name) => request('GET', `/apps/${encodeURIComponent(name)}/domains`),
    addDomain: (name, domain) => request('POST', `/apps/${encodeURIComponent(name)}/domains`, { domain }),
    removeDomain: (name, domain) =>
      request('DELETE', `/apps/${encodeURIComponent(name)}/domains/${encodeURIComponent(domain)}`),
    listReleases: (name) => request('GET', `/apps/${encodeURIComponent(name)}/releases`),
    rollback: (name, release) => request('POST', `/apps/${encodeURIComponent(name)}/rollback`, { release }),
    listDatabases: () => request('GET', '/databases'),
    backupDatabase: (db) => request('POST', `/databases/${encodeURIComponent(db)}/backups`),
    listBackups: (db) => request('GET', `/databases/${encodeURIComponent(db)}/backups`),
    downloadBackup: (db, id) => download(`/databases/${encodeURIComponent(db)}/backups/${encodeURIComponent(id)}`),
    deleteVolume: (name, vol) => request('DELETE', volume(name, vol)),
    backupVolume: (name, vol) => request('POST', `${volume(name, vol)}/backups`),
    listVolumeBackups: (name, vol) => request('GET', `${volume(name, vol)}/backups`),
    restoreVolume: (name, vol, backup) => request('POST', `${volume(name, vol)}/restore`, { backup }),
    downloadVolumeBackup: (name, vol, id) => download(`${volume(name, vol)}/backups/${encodeURIComponent(id)}`),
    listSchedules: (name) => request('GET', `${app(name)}/schedules`),
    addSchedule: (name, body) => request('POST', `${app(name)}/schedules`, body),
    removeSchedule: (name, id) => request('DELETE', schedule(name, id)),
    scheduleRuns: (name, id) => request('GET', `${schedule(name, id)}/runs`),
    job: (id) => request('GET', `/jobs/${encodeURIComponent(id)}`),
    /** The raw response of a metrics follow (server-sent events), for a stream reader. */
    followMetrics: (name, { signal }) =>
      fetch(`/apps/${encodeURIComponent(name)}/metrics?follow=1`, {
        headers: headers({ accept: 'text/event-stream' }),
        credentials: 'omit',
        cache: 'no-store',
        signal,
      }),
    /** A single-use ticket for a web terminal in instance `instance` (undefined: the first). */
    terminalTicket: (name, instance) =>
      request('POST', `/apps/${encodeURIComponent(name)}/terminal`, instance === undefined ? {} : { instance }),
    /** The raw response of a log follow (server-sent events), for a stream reader. */
    followLogs: (name, { signal, lastEventId, tail = 100 }) =>
      fetch(`/apps/${encodeURIComponent(name)}/logs?follow=1&tail=${tail}`, {
        headers: headers({ accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }),
        credentials: 'omit',
        cache: 'no-store',
        signal,
      }),
  };
}
