/**
 * Every Lua script Gasper runs in Redis, in one place. Each exists because a check and a write
 * must not have another client's command between them (Redis runs a script atomically); WATCH
 * would not do, as it belongs to a connection and the connections here are shared by concurrent
 * requests. Each entry says its KEYS, its ARGV and what it returns.
 */

/**
 * Compare-and-set of a document and, when ARGV[3] names an entity, its event appended to the
 * stream and recorded as that entity's latest (as events/stream.ts publishEvent does), in one
 * step: store/app-state-writes.ts (an app's observed state, app.instances) and
 * store/document-store.ts `update` (any document, e.g. an app's HTTPS settings with app.edge).
 * KEYS: the document, the events' latest-by-entity hash, the events stream. ARGV: the value read,
 * the value to write, the event's entity ('' for no event), the event, the stream's MAXLEN.
 * Returns 0 when the value changed meanwhile (the caller reads again), else the event's stream id
 * (or 'stored' when there is no event).
 */
export const compareAndSetWithEvent = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == '' then return 'stored' end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'event', ARGV[4])`;

/**
 * Stores a new document and lists its name, or does nothing when the name is taken, so two
 * requests for one name cannot both win and a loser leaves nothing behind; a document is never
 * stored without being listed.
 * KEYS: the document, the set of names, then keys set with the document (an app's release
 * sequence). ARGV: the document, its name, then the value of each further key.
 * Returns 1 when created, 0 when the name was taken.
 */
export const createDocument = `if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SADD', KEYS[2], ARGV[2])
  for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[i]) end
  return 1
end
return 0`;

/**
 * Reserves a free host port of a range for a database on a node, from a random start (so two
 * nodes' API calls rarely probe the same ports).
 * KEYS: the node's set of reserved ports. ARGV: min, max, start.
 * Returns the port, or 0 when the range is full.
 */
export const allocatePort = `local min, max, start = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local size = max - min + 1
for i = 0, size - 1 do
  local port = min + ((start - min + i) % size)
  if redis.call('SADD', KEYS[1], port) == 1 then return port end
end
return 0`;

/**
 * Runs `write` only while the app exists and is not being deleted, so a key or password cannot be
 * left behind by a request racing the app's deletion (which removes these keys).
 * KEYS[1]: the app document. Returns -1 when the app is gone or being deleted, else what `write` returns.
 */
const whileAppLive = (write: string) => `local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
if cjson.decode(raw).status == 'deleting' then return -1 end
${write}`;

/**
 * Adds an SSH public key to an app unless its id is there.
 * KEYS: the app, its hash of keys. ARGV: key id, record. Returns -1 (no app), 0 (exists), 1 (added).
 */
export const addSshKey = whileAppLive(`return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])`);

/**
 * Sets an app's SSH password hash.
 * KEYS: the app, its password key. ARGV: the hash. Returns -1 (no app) or 1.
 */
export const setSshPassword = whileAppLive(`redis.call('SET', KEYS[2], ARGV[1]) return 1`);

/**
 * Writes one instance's resource samples only while the app exists, so a late sample cannot
 * bring a deleted app's keys back.
 * KEYS: the app, its metrics hash. ARGV: instance, samples, then optionally a channel and the
 * message published on it in the same step (the new sample, for live follows). Returns 1 when
 * written, 0 when the app is gone.
 */
export const putMetrics = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1`;

/** What a log stream entry costs besides its field values (ids, field names, listpack headers), roughly. */
export const logEntryOverhead = 40;

/**
 * Appends log lines only while the app exists, so a line collected while the app is being deleted
 * cannot bring its keys back; moves the container's resume point in the same step. Then trims the
 * oldest entries until the stream is within both its line count and its byte budget: each
 * entry's size is counted when it is added and subtracted when it is trimmed (a counter key),
 * so trimming reads only the entries it removes.
 * KEYS: app, logs, cursors, bytes. ARGV: maxLines, maxBytes, container id, cursor, instance,
 * release, then (stream, timestamp, text) per line. Returns 1 when written, 0 when the app is gone.
 */
export const appendLogLines = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local overhead = ${logEntryOverhead}
local added = 0
for i = 7, #ARGV, 3 do
  redis.call('XADD', KEYS[2], '*', 'i', ARGV[5], 'r', ARGV[6], 's', ARGV[i], 't', ARGV[i + 1], 'm', ARGV[i + 2])
  added = added + overhead + #ARGV[5] + #ARGV[6] + #ARGV[i] + #ARGV[i + 1] + #ARGV[i + 2]
end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
local bytes = redis.call('INCRBY', KEYS[4], added)
local len = redis.call('XLEN', KEYS[2])
local maxLines, maxBytes = tonumber(ARGV[1]), tonumber(ARGV[2])
if len <= maxLines and bytes <= maxBytes then return 1 end
local start = '-'
local keep = nil
while keep == nil and len > 1 do
  local page = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', 200)
  if #page == 0 then break end
  for _, entry in ipairs(page) do
    if len <= 1 or (len <= maxLines and bytes <= maxBytes) then keep = entry[1] break end
    local size = overhead
    local fields = entry[2]
    for f = 2, #fields, 2 do size = size + #fields[f] end
    bytes = bytes - size
    len = len - 1
    start = '(' .. entry[1]
  end
end
if keep ~= nil then redis.call('XTRIM', KEYS[2], 'MINID', keep) end
-- Lines written before the counter existed were never counted: never below zero.
if bytes < 0 then bytes = 0 end
redis.call('SET', KEYS[4], bytes)
return 1`;

/**
 * Takes or renews an owner's job slot on a node (see workers/apps/owner-slots.ts): expired leases
 * are dropped first (Redis's clock), then the job's lease is added or refreshed when it holds
 * one already or the owner is under the limit.
 * KEYS: the owner's sorted set of leases. ARGV: lease ms, limit, job id. Returns 1 when held, 0 at the limit.
 */
export const acquireOwnerSlot = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
  return 1
end
return 0
`;

/**
 * Releases a lock only if this holder still has it (it may have expired and been taken by
 * another API process meanwhile).
 * KEYS: the lock. ARGV: the holder's token. Returns 1 when released, 0 otherwise.
 */
export const releaseLock = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * A Lua function that appends an event as events/stream.ts `publishEvent` does (snapshot entry,
 * stream entry), for scripts that store a document and announce it in the same call, so the two
 * never disagree. KEYS[1] the snapshot hash, KEYS[2] the stream; ARGV[1..4] the entity, payload,
 * tombstone ('1' or '0') and stream length cap (events/stream.ts `eventRecord`).
 */
const publishEventFunction = `local function publish(k, a)
  if a[3] == '1' then redis.call('HDEL', k[1], a[1]) else redis.call('HSET', k[1], a[1], a[2]) end
  redis.call('XADD', k[2], 'MAXLEN', '~', a[4], '*', 'event', a[2])
end
`;

/**
 * Stores a new custom domain and announces it (store/domains.ts): only while its app is that
 * incarnation and not being deleted, only when no app holds the domain, and only under the
 * app's limit, so concurrent requests cannot exceed it.
 * KEYS: events snapshot, stream, domain, all domains, the app's domains, the app. ARGV: the
 * event (4), the document, the domain, the limit (0: none), the app's uid, '1' to publish (a
 * domain awaiting its ownership proof is not announced: no proxy may route it yet).
 * Returns 'created', 'taken', 'limit' or 'no-app'.
 */
export const createDomain = `${publishEventFunction}
local app = redis.call('GET', KEYS[6])
if not app then return 'no-app' end
local decoded = cjson.decode(app)
if decoded.status == 'deleting' or decoded.uid ~= ARGV[8] then return 'no-app' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'taken' end
local limit = tonumber(ARGV[7])
if limit > 0 and redis.call('SCARD', KEYS[5]) >= limit then return 'limit' end
redis.call('SET', KEYS[3], ARGV[5])
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('SADD', KEYS[5], ARGV[6])
if ARGV[9] == '1' then publish(KEYS, ARGV) end
return 'created'`;

/**
 * Compare-and-set of a custom domain, announcing it in the same call when asked.
 * KEYS: events snapshot, stream, domain, and optionally one more key written in the same call
 * (the domain's certificate, so that it can never land on another incarnation of the domain).
 * ARGV: the event (4), the document read, the new one, '1' to publish, that key's value.
 * Returns 1 when written, 0 when the document changed meanwhile.
 */
export const updateDomain = `${publishEventFunction}
if redis.call('GET', KEYS[3]) ~= ARGV[5] then return 0 end
redis.call('SET', KEYS[3], ARGV[6])
if KEYS[4] then redis.call('SET', KEYS[4], ARGV[8]) end
if ARGV[7] == '1' then publish(KEYS, ARGV) end
return 1`;

/**
 * Removes a custom domain with its certificate and announces `domain.removed`, only while it
 * belongs to the app named (and that incarnation, when a uid is given).
 * KEYS: events snapshot, stream, domain, all domains, the app's domains, the certificate.
 * ARGV: the event (4), the domain, the app, the app's uid ('' for any). Returns 1 or 0.
 */
export const removeDomain = `${publishEventFunction}
local raw = redis.call('GET', KEYS[3])
if not raw then return 0 end
local doc = cjson.decode(raw)
if doc.app ~= ARGV[6] or (ARGV[7] ~= '' and doc.appUid ~= ARGV[7]) then return 0 end
redis.call('DEL', KEYS[3], KEYS[6])
redis.call('SREM', KEYS[4], ARGV[5])
redis.call('SREM', KEYS[5], ARGV[5])
publish(KEYS, ARGV)
return 1`;

/**
 * Replaces a web-terminal session's start record with its finished one (store/terminal-sessions.ts),
 * only if the start record is still kept: a session trimmed away meanwhile is not written back.
 * KEYS: the app's sessions sorted set. ARGV: the start record, its score, the finished record.
 * Returns 1 when replaced, 0 when the start record was gone.
 */
export const endTerminalSession = `if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1`;
