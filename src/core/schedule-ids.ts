/**
 * The ids of an app's schedules made from its app.json (workers/schedules/app-json-cron.ts) start
 * with this: deploys manage those and only those, and a transfer keeps them (they come from the
 * repository), while it removes the ones made through the API.
 */
export const appJsonSchedulePrefix = 'appjson-';

/**
 * Schedules an app may have: through the API, and in its app.json. Each run takes a worker slot of
 * the app's node while it runs, so the bound keeps one app from filling the node's slots.
 */
export const schedulesPerApp = 20;
