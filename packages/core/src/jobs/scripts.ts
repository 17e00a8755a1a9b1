/**
 * The Lua scripts that move a job's status record. Each runs atomically in Redis, so a status only ever
 * moves forward (SPEC §4): a terminal status never changes again, a late progress write cannot move a job
 * back, and the counters (per state, per tenant, per lane, per campaign) change exactly once per move.
 *
 * A campaign job has no status record while it waits (that is what keeps a 100,000-job campaign cheap):
 * a compact reference ("jx" buckets) says which campaign and index it is, and its status is derived from
 * the campaign until the job starts or is cancelled, when its record is created.
 *
 * Keys a script derives from the record (the lane, the campaign) are built inside the script from the
 * prefix; this project targets a single Redis (as BullMQ does without hash tags), not Redis Cluster.
 *
 * ARGV[1] is always the key prefix and ARGV[2] the job (or campaign) id.
 */

const PRELUDE = `
local P = ARGV[1]
local LIVE = { queued = true, pending = true, processing = true }
local TERMINAL = { completed = true, failed = true, cancelled = true }
local STATS = P .. ':stats'
local INFLIGHT = P .. ':inflight'

local function campKey(cid)
  if cid and cid ~= '' then return P .. ':camp:' .. cid end
  return nil
end

-- Moves one job between states in every counter that tracks it, and in its campaign's status index.
local function count(camp, from, to, id, idx)
  if LIVE[from] then redis.call('HINCRBY', STATS, from, -1) end
  if LIVE[to] then redis.call('HINCRBY', STATS, to, 1) end
  if camp then
    if from then redis.call('HINCRBY', camp, from, -1) end
    redis.call('HINCRBY', camp, to, 1)
    if id and idx and idx ~= '' then
      if from and from ~= 'queued' then redis.call('ZREM', camp .. ':st:' .. from, id) end
      redis.call('ZADD', camp .. ':st:' .. to, idx, id)
    end
  end
end

-- Ends a live job: every counter that tracks it, its tenant's jobs in flight, its status and end time plus
-- \`extra\` fields, and nothing it must not keep (zero data retention); the record expires \`ttl\` s later.
local function endJob(key, camp, from, to, id, idx, tenant, now, ttl, extra)
  count(camp, from, to, id, idx)
  redis.call('HINCRBY', INFLIGHT, tenant, -1)
  redis.call('HSET', key, 'status', to, 'finished_at', now, unpack(extra))
  -- The callback URL is handed to the webhook queue and not kept.
  redis.call('HDEL', key, 'callback_url', 'worker')
  redis.call('EXPIRE', key, ttl)
end

-- After a job of a campaign ends: the transition that ends the campaign's last job says so, once.
local function campaignDone(camp, now)
  if not camp then return 0 end
  local c = redis.call('HMGET', camp, 'job_count', 'completed', 'failed', 'cancelled', 'done', 'lane', 'campaign_id')
  local ended = tonumber(c[2] or '0') + tonumber(c[3] or '0') + tonumber(c[4] or '0')
  if c[5] ~= '1' and c[1] and ended >= tonumber(c[1]) then
    redis.call('HSET', camp, 'done', '1', 'finished_at', now)
    if c[6] and c[7] then redis.call('ZREM', P .. ':lanec:' .. c[6], c[7]) end
    return 1
  end
  return 0
end

-- Queued jobs of a lane (sorted set: the order the lane serves them), for exact queue positions in
-- O(log n): ZRANK instead of scanning the BullMQ list.
local function laneLeave(lane, id)
  if lane and lane ~= '' then redis.call('ZREM', P .. ':laneq:' .. lane, id) end
end

-- Which campaign and index a job without a record is, or nil.
local function jobRef(id)
  local ref = redis.call('HGET', P .. ':jx:' .. string.sub(id, 5, 7), string.sub(id, 8))
  if not ref then return nil end
  local sep = string.find(ref, ':', 1, true)
  return string.sub(ref, 1, sep - 1), tonumber(string.sub(ref, sep + 1))
end

-- The record a campaign job starts with, derived from its campaign (field names as stored).
local function virtualRecord(cid, idx)
  local camp = P .. ':camp:' .. cid
  local c = redis.call('HMGET', camp, 'tenant', 'per_profile', 'variants', 'scene_count', 'created_at', 'lane',
    'metadata', 'callback_url', 'is_cancelled', 'cancelled_at')
  if not c[1] then return nil end
  local profile = redis.call('LINDEX', camp .. ':profiles', math.floor(idx / tonumber(c[2]))) or ':'
  local sep = string.find(profile, ':', 1, true)
  local meta = redis.call('LINDEX', camp .. ':scenes', math.floor(idx / tonumber(c[3])) % tonumber(c[4]))
  if not meta or meta == '' then meta = c[7] or '' end
  return {
    tenant = c[1], endpoint = '/generate/image/v1', status = 'queued', progress = '0', attempts = '0',
    profile_id = string.sub(profile, 1, sep - 1), profile_version = string.sub(profile, sep + 1),
    campaign_id = cid, campaign_index = tostring(idx), queued_at = c[5], lane = c[6], metadata = meta,
    callback_url = c[8] or ''
  }, c[9] == '1', c[10]
end

local function flatten(t)
  local list = {}
  for k, v in pairs(t) do
    if v ~= nil and v ~= '' then
      table.insert(list, k)
      table.insert(list, v)
    end
  end
  return list
end
`;

/**
 * CREATE — a new queued job. KEYS: job. ARGV: prefix, job id, tenant, lane, max in flight (0 = no limit),
 * order base (BullMQ priority × 1e12 in a priority lane, else 0), then field/value pairs.
 * Returns {seq, jobs ahead} or {-1} (id taken) or {-2, in flight} (limit).
 */
export const CREATE = `${PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local id, tenant, lane, max, base = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local inflight = tonumber(redis.call('HGET', INFLIGHT, tenant) or '0')
if max > 0 and inflight >= max then return {-2, inflight} end
local seq = redis.call('HINCRBY', P .. ':lane:' .. lane, 'seq', 1)
redis.call('HSET', KEYS[1], 'seq', seq, unpack(ARGV, 7))
local laneq = P .. ':laneq:' .. lane
redis.call('ZADD', laneq, base + seq, id)
count(nil, nil, 'queued')
redis.call('HINCRBY', INFLIGHT, tenant, 1)
if redis.call('SADD', P .. ':lanes', lane) == 1 then redis.call('PUBLISH', P .. ':lanes:new', lane) end
local ahead = redis.call('ZRANK', laneq, id)
if string.sub(lane, -3) ~= '.hi' then ahead = ahead + redis.call('ZCARD', laneq .. '.hi') end
return {seq, ahead}
`;

/** DISCARD — undoes CREATE when the job could not be enqueued. KEYS: job. ARGV: prefix, job id. */
export const DISCARD = `${PRELUDE}
local r = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'lane')
if r[1] ~= 'queued' then return 0 end
redis.call('DEL', KEYS[1])
count(nil, 'queued', nil)
redis.call('HINCRBY', INFLIGHT, r[2], -1)
laneLeave(r[3], ARGV[2])
return 1
`;

/**
 * START — the job got a GPU slot. KEYS: job. ARGV: prefix, job id, now, worker, prompt, seed.
 * Returns {'started', attempts, seed, prompt} | {'terminal', status} | {'missing'}.
 */
export const START = `${PRELUDE}
local id, now, worker = ARGV[2], ARGV[3], ARGV[4]
local r = redis.call('HMGET', KEYS[1], 'status', 'lane', 'campaign_id', 'campaign_index')
local st, lane, cid, idx = r[1], r[2], r[3], r[4]
if not st then
  -- A campaign job gets its record when it starts.
  local refCid, refIdx = jobRef(id)
  if not refCid then return {'missing'} end
  local fields, cancelled = virtualRecord(refCid, refIdx)
  if not fields then return {'missing'} end
  if cancelled then return {'terminal', 'cancelled'} end
  redis.call('HSET', KEYS[1], unpack(flatten(fields)))
  st, lane, cid, idx = 'queued', fields.lane, refCid, fields.campaign_index
end
if TERMINAL[st] then return {'terminal', st} end
if st == 'queued' then laneLeave(lane, id) end
if st ~= 'processing' then count(campKey(cid), st, 'processing', id, idx) end
redis.call('HSET', KEYS[1], 'status', 'processing', 'progress', '0', 'worker', worker)
redis.call('HSETNX', KEYS[1], 'started_at', now)
redis.call('HSETNX', KEYS[1], 'prompt', ARGV[5])
redis.call('HSETNX', KEYS[1], 'seed', ARGV[6])
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local kept = redis.call('HMGET', KEYS[1], 'seed', 'prompt')
return {'started', attempts, kept[1], kept[2]}
`;

/** PROGRESS — only while processing, and only forward. KEYS: job. ARGV: prefix, job id, percent. */
export const PROGRESS = `
local r = redis.call('HMGET', KEYS[1], 'status', 'progress')
if r[1] ~= 'processing' then return 0 end
if tonumber(ARGV[3]) <= tonumber(r[2] or '0') then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[3])
return 1
`;

/** RETRY — a retryable failure with attempts left: processing → pending. KEYS: job. ARGV: prefix, job id, fields… */
export const RETRY = `${PRELUDE}
local r = redis.call('HMGET', KEYS[1], 'status', 'campaign_id', 'campaign_index')
if r[1] ~= 'processing' then return 0 end
count(campKey(r[2]), 'processing', 'pending', ARGV[2], r[3])
redis.call('HSET', KEYS[1], 'status', 'pending', 'progress', '0', unpack(ARGV, 3))
return 1
`;

/**
 * FINISH — the job ends (completed, failed or cancelled) unless it already ended. A campaign job still
 * waiting (no record) can only be cancelled; its record is created for that.
 * KEYS: job. ARGV: prefix, job id, status, now, retention seconds, tenant (or '' for any), field/value pairs…
 * Returns {1, previous status, callback_url, campaign_id, campaign done} or {0, status|''}.
 */
export const FINISH = `${PRELUDE}
local id, to, now, ttl, tenant = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local r = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'lane', 'campaign_id', 'callback_url', 'campaign_index')
if not r[1] then
  local refCid, refIdx = jobRef(id)
  if not refCid or to ~= 'cancelled' then return {0, ''} end
  local fields, cancelled = virtualRecord(refCid, refIdx)
  if not fields or (tenant ~= '' and fields.tenant ~= tenant) then return {0, ''} end
  if cancelled then return {0, 'cancelled'} end
  redis.call('HSET', KEYS[1], unpack(flatten(fields)))
  r = { 'queued', fields.tenant, fields.lane, refCid, fields.callback_url, fields.campaign_index }
end
local st = r[1]
if tenant ~= '' and r[2] ~= tenant then return {0, ''} end
if TERMINAL[st] then return {0, st} end
if st == 'queued' then laneLeave(r[3], id) end
local camp = campKey(r[4])
local extra = { unpack(ARGV, 7) }
if to == 'completed' then
  table.insert(extra, 'progress')
  table.insert(extra, '100')
end
endJob(KEYS[1], camp, st, to, id, r[6], r[2], now, ttl, extra)
return {1, st, r[5] or '', r[4] or '', campaignDone(camp, now)}
`;

/**
 * READ — the status record and the job's queue position, in one round trip. KEYS: job.
 * ARGV: prefix, job id, tenant. Returns the record's field/value list plus '__ahead' (or nil for unknown/foreign).
 */
export const READ = `${PRELUDE}
local id, tenant = ARGV[2], ARGV[3]
local rec = redis.call('HGETALL', KEYS[1])
if #rec == 0 then
  -- A campaign job that has not started: its status comes from its campaign.
  local cid, idx = jobRef(id)
  if not cid then return nil end
  local fields, cancelled, cancelledAt = virtualRecord(cid, idx)
  if not fields or fields.tenant ~= tenant then return nil end
  if cancelled then
    fields.status, fields.finished_at = 'cancelled', cancelledAt
    fields.failure_reason_code, fields.retryable, fields.error = 'CANCELLED', '0', 'the campaign was cancelled'
  else
    local camp = P .. ':camp:' .. cid
    local c = redis.call('HMGET', camp, 'job_count', 'queued', 'base_seq')
    -- Its own campaign's jobs ahead (they start in index order), earlier campaigns' queued jobs,
    -- and the tenant's priority lane, which is served first.
    local ahead = math.max(0, idx - (tonumber(c[1]) - tonumber(c[2] or '0')))
    for _, other in ipairs(redis.call('ZRANGEBYSCORE', P .. ':lanec:' .. fields.lane, '-inf', '(' .. (c[3] or '0'))) do
      ahead = ahead + tonumber(redis.call('HGET', P .. ':camp:' .. other, 'queued') or '0')
    end
    local hi = string.gsub(fields.lane, '%.camp$', '.hi')
    fields.__ahead = tostring(ahead + redis.call('ZCARD', P .. ':laneq:' .. hi))
  end
  fields.callback_url = nil
  return flatten(fields)
end
local f = {}
for i = 1, #rec, 2 do f[rec[i]] = rec[i + 1] end
if f.tenant ~= tenant then return nil end
if f.status == 'queued' and f.lane then
  local laneq = P .. ':laneq:' .. f.lane
  local ahead = redis.call('ZRANK', laneq, id)
  if ahead then
    -- A tenant's priority lane is served before its normal lane.
    if string.sub(f.lane, -3) ~= '.hi' then ahead = ahead + redis.call('ZCARD', laneq .. '.hi') end
    table.insert(rec, '__ahead')
    table.insert(rec, tostring(ahead))
  end
end
return rec
`;

/**
 * CAMPAIGN_CREATE — records a campaign whose jobs are about to be enqueued. KEYS: campaign hash.
 * ARGV: prefix, campaign id, tenant, lane, job count, max in flight, now, profile count P, P × "id:version",
 * scene count S, S × scene metadata (JSON or ''), then field/value pairs of the campaign hash.
 * Returns {first sequence number} or {-1} (exists) or {-2, in flight} (limit).
 */
export const CAMPAIGN_CREATE = `${PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local cid, tenant, lane, n, max, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local inflight = tonumber(redis.call('HGET', INFLIGHT, tenant) or '0')
if max > 0 and inflight + n > max then return {-2, inflight} end
local at = 8
local profiles = tonumber(ARGV[at])
redis.call('RPUSH', KEYS[1] .. ':profiles', unpack(ARGV, at + 1, at + profiles))
at = at + profiles + 1
local scenes = tonumber(ARGV[at])
redis.call('RPUSH', KEYS[1] .. ':scenes', unpack(ARGV, at + 1, at + scenes))
at = at + scenes + 1
local base = redis.call('HINCRBY', P .. ':lane:' .. lane, 'seq', n) - n + 1
redis.call('HSET', KEYS[1], 'campaign_id', cid, 'tenant', tenant, 'lane', lane, 'job_count', n, 'base_seq', base,
  'created_at', now, 'queued', n, 'pending', 0, 'processing', 0, 'completed', 0, 'failed', 0, 'cancelled', 0,
  'scene_count', scenes, unpack(ARGV, at))
redis.call('HINCRBY', STATS, 'queued', n)
redis.call('HINCRBY', INFLIGHT, tenant, n)
redis.call('ZADD', P .. ':lanec:' .. lane, base, cid)
if redis.call('SADD', P .. ':lanes', lane) == 1 then redis.call('PUBLISH', P .. ':lanes:new', lane) end
return {base}
`;

/**
 * CAMPAIGN_CANCEL — every job of the campaign not yet ended ends `cancelled`: the waiting ones at once
 * (by count: they have no records), the pending and running ones record by record.
 * KEYS: campaign hash. ARGV: prefix, campaign id, tenant, now, retention seconds.
 * Returns {'cancelled', waiting cancelled, campaign done, ended job ids…} | {'ended'} | {'missing'}.
 */
export const CAMPAIGN_CANCEL = `${PRELUDE}
local cid, tenant, now, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local c = redis.call('HMGET', KEYS[1], 'tenant', 'queued', 'done', 'is_cancelled')
if not c[1] or c[1] ~= tenant then return {'missing'} end
if c[3] == '1' or c[4] == '1' then return {'ended'} end
local waiting = tonumber(c[2] or '0')
redis.call('HSET', KEYS[1], 'is_cancelled', '1', 'cancelled_at', now)
if waiting > 0 then
  -- (Negating 0 in Lua gives -0, which HINCRBY refuses; only touch the counters when there is something.)
  redis.call('HINCRBY', KEYS[1], 'queued', 0 - waiting)
  redis.call('HINCRBY', KEYS[1], 'cancelled', waiting)
  redis.call('HINCRBY', STATS, 'queued', 0 - waiting)
  redis.call('HINCRBY', INFLIGHT, tenant, 0 - waiting)
end
local ended = {}
for _, st in ipairs({ 'pending', 'processing' }) do
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1] .. ':st:' .. st, 0, -1, 'WITHSCORES')) do
    table.insert(ended, id)
  end
end
local ids = {}
for i = 1, #ended, 2 do
  local id, idx = ended[i], ended[i + 1]
  local key = P .. ':job:' .. id
  local st = redis.call('HGET', key, 'status')
  if LIVE[st] then
    endJob(key, KEYS[1], st, 'cancelled', id, idx, tenant, now, ttl,
      { 'failure_reason_code', 'CANCELLED', 'retryable', '0', 'error', 'the campaign was cancelled' })
    table.insert(ids, id)
  end
end
local done = campaignDone(KEYS[1], now)
return {'cancelled', waiting, done, unpack(ids)}
`;

export const SCRIPTS = {
  jobCreate: { numberOfKeys: 1, lua: CREATE },
  jobDiscard: { numberOfKeys: 1, lua: DISCARD },
  jobStart: { numberOfKeys: 1, lua: START },
  jobProgress: { numberOfKeys: 1, lua: PROGRESS },
  jobRetry: { numberOfKeys: 1, lua: RETRY },
  jobFinish: { numberOfKeys: 1, lua: FINISH },
  jobRead: { numberOfKeys: 1, lua: READ },
  campaignCreate: { numberOfKeys: 1, lua: CAMPAIGN_CREATE },
  campaignCancel: { numberOfKeys: 1, lua: CAMPAIGN_CANCEL },
} as const;
