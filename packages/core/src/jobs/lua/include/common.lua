-- Shared by the job scripts (prepended by scripts.ts). Every key a script touches is in its KEYS; the
-- helpers below only ever receive key names from there.
local LIVE = { queued = true, pending = true, processing = true }
local TERMINAL = { completed = true, failed = true, cancelled = true }

-- HINCRBY refuses -0 (what negating 0 gives in Lua): only touch a counter when there is something.
local function incr(key, field, by)
  if by ~= 0 then return redis.call('HINCRBY', key, field, by) end
  return tonumber(redis.call('HGET', key, field) or '0')
end

-- A tenant's jobs in flight; the field goes when it reaches zero, so idle tenants leave nothing behind.
local function inflight(key, tenant, by)
  if incr(key, tenant, by) <= 0 then redis.call('HDEL', key, tenant) end
end

-- The campaign block of KEYS, when the job belongs to a campaign: its hash, its status indexes, its roster.
local function campaignKeys(at)
  if not KEYS[at] then return nil end
  return {
    hash = KEYS[at],
    st = { pending = KEYS[at + 1], processing = KEYS[at + 2], completed = KEYS[at + 3], failed = KEYS[at + 4],
           cancelled = KEYS[at + 5] },
    profiles = KEYS[at + 6],
    scenes = KEYS[at + 7],
  }
end

-- The live states the bucket's stats hash counts. Processing is not among them: it is the `running` set less
-- the pending jobs (both already kept), so a job's start and end cost one counter write fewer each.
local COUNTED = { queued = true, pending = true }

-- Moves one job between states in every counter that tracks it, and in its campaign's status index.
local function count(stats, camp, from, to, id, idx)
  if from and COUNTED[from] then incr(stats, from, -1) end
  if to and COUNTED[to] then incr(stats, to, 1) end
  if camp then
    if from then incr(camp.hash, from, -1) end
    if to then incr(camp.hash, to, 1) end
    if from and camp.st[from] then redis.call('ZREM', camp.st[from], id) end
    if to and camp.st[to] then redis.call('ZADD', camp.st[to], idx, id) end
  end
end

-- The status a campaign job ended with, if it had a record that has since expired (nil otherwise).
local function endedWithoutRecord(camp, id)
  for _, st in ipairs({ 'completed', 'failed', 'cancelled' }) do
    if redis.call('ZSCORE', camp.st[st], id) then return st end
  end
  return nil
end

-- The record a campaign job starts with, derived from its campaign: nothing is stored per waiting job.
-- Returns fields, cancelled flag, cancelled-at; nil when the campaign (or that index) does not exist.
local function campaignJob(camp, cid, idx)
  local c = redis.call('HMGET', camp.hash, 'tenant', 'per_profile', 'variants', 'scene_count', 'created_at',
    'lane', 'metadata', 'is_cancelled', 'cancelled_at', 'job_count', 'op', 'base_seq')
  if not c[1] or not idx or idx < 0 or idx >= tonumber(c[10]) then return nil end
  local profile = redis.call('LINDEX', camp.profiles, math.floor(idx / tonumber(c[2]))) or ':'
  local sep = string.find(profile, ':', 1, true)
  local meta = redis.call('LINDEX', camp.scenes, math.floor(idx / tonumber(c[3])) % tonumber(c[4]))
  if not meta or meta == '' then meta = c[7] or '' end
  return {
    tenant = c[1], op = c[11] or 'generate', status = 'queued', progress = '0', attempts = '0',
    profile_id = string.sub(profile, 1, sep - 1), profile_version = string.sub(profile, sep + 1),
    campaign_id = cid, campaign_index = tostring(idx), queued_at = c[5], lane = c[6], metadata = meta,
    seq = tostring(tonumber(c[12]) + idx)
  }, c[8] == '1', c[9]
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

-- The transition that ends a campaign's last job says so, once: the campaign is marked done, scheduled to be
-- forgotten, and its finalization (outcome in MongoDB, campaign.completed) goes to the outbox.
local function campaignDone(camp, campaigns, outbox, cid, now, forgetMs)
  if not camp then return 0 end
  local c = redis.call('HMGET', camp.hash, 'job_count', 'completed', 'failed', 'cancelled', 'done', 'tenant')
  local ended = tonumber(c[2] or '0') + tonumber(c[3] or '0') + tonumber(c[4] or '0')
  if c[5] ~= '1' and c[1] and ended >= tonumber(c[1]) then
    redis.call('HSET', camp.hash, 'done', '1', 'finished_at', now)
    redis.call('ZADD', campaigns, tonumber(now) + tonumber(forgetMs), cid)
    redis.call('XADD', outbox, '*', 'k', 'c', 'id', cid, 't', c[6])
    return 1
  end
  return 0
end
