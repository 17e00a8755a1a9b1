-- CAMPAIGN_CANCEL: every job of the campaign not yet ended ends `cancelled`. Phase 1 marks the campaign
-- cancelled (so no waiting job starts any more) and cancels the waiting ones by count (they have no records);
-- both phases end the started jobs whose records the caller declared, and return the ids of started jobs
-- still live that were not declared (the caller calls phase 2 with them, until none is left).
-- KEYS: 1 campaign, 2 stats, 3 inflight, 4 running, 5 outbox, 6 live campaigns, 7-11 status indexes
--       (pending, processing, completed, failed, cancelled), 12… records of the jobs to end
-- ARGV: 1 campaign id, 2 tenant, 3 now, 4 retention seconds, 5 cancel channel, 6 phase (1|2), 7… job ids
--       (one per declared record, same order)
-- Returns {'cancelled', waiting cancelled, campaign done, undeclared live ids…} | {'ended'} | {'missing'}
local cid, tenant, now, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local camp = { hash = KEYS[1], st = { pending = KEYS[7], processing = KEYS[8], completed = KEYS[9],
  failed = KEYS[10], cancelled = KEYS[11] } }
local c = redis.call('HMGET', KEYS[1], 'tenant', 'queued', 'done', 'is_cancelled', 'callback_url')
if not c[1] or c[1] ~= tenant then return {'missing'} end
if c[3] == '1' or (ARGV[6] == '1' and c[4] == '1') then return {'ended'} end

local waiting = 0
if ARGV[6] == '1' then
  waiting = tonumber(c[2] or '0')
  redis.call('HSET', KEYS[1], 'is_cancelled', '1', 'cancelled_at', now)
  incr(KEYS[1], 'queued', -waiting)
  incr(KEYS[1], 'cancelled', waiting)
  incr(KEYS[2], 'queued', -waiting)
  inflight(KEYS[3], tenant, -waiting)
end

local declared = {}
for i = 12, #KEYS do
  local id = ARGV[i - 5]
  declared[id] = true
  local r = redis.call('HMGET', KEYS[i], 'status', 'campaign_index')
  if r[1] and LIVE[r[1]] then
    count(KEYS[2], camp, r[1], 'cancelled', id, r[2])
    inflight(KEYS[3], tenant, -1)
    redis.call('ZREM', KEYS[4], id)
    redis.call('HSET', KEYS[i], 'status', 'cancelled', 'finished_at', now, 'failure_reason_code', 'CANCELLED',
      'retryable', '0', 'error', 'the campaign was cancelled')
    redis.call('HDEL', KEYS[i], 'callback_url', 'inputs', 'worker')
    redis.call('EXPIRE', KEYS[i], ttl)
    if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], id) end
    -- Each job that had started gets its job.cancelled event; the waiting ones are counted in campaign.completed.
    if c[5] then redis.call('XADD', KEYS[5], '*', 'k', 'j', 'id', id, 'ev', 'cancelled', 't', tenant, 'c', cid) end
  end
end

local left = {}
for _, st in ipairs({ 'pending', 'processing' }) do
  for _, id in ipairs(redis.call('ZRANGE', camp.st[st], 0, -1)) do
    if not declared[id] then table.insert(left, id) end
  end
end
local done = campaignDone(camp, KEYS[6], KEYS[5], cid, now, ttl * 1000)
return {'cancelled', waiting, done, unpack(left)}
