-- FINISH: the job ends (completed, failed or cancelled) unless it already ended, and everything that must
-- happen because it ended is recorded in the same step: every counter, its campaign's counts and "campaign
-- done" (once), the webhook event in the outbox, the result in the expiry index, the inference sample, the
-- cancel broadcast to the worker holding it. Nothing of that depends on the caller surviving the next line.
-- KEYS: 1 job, 2 stats, 3 inflight, 4 running, 5 outbox, 6 results, 7 durations, 8 live campaigns,
--       9 lane queue (normal), 10 lane queue (priority), 11 the BullMQ job hash (in the normal lane, or in the
--       lane the reconciler names), 12 the tenant's usage this month, 13 the BullMQ job hash in the priority
--       lane, 14… the campaign block
-- ARGV: 1 job id, 2 status, 3 now, 4 retention seconds, 5 tenant ('' = any), 6 campaign index, 7 campaign id,
--       8 cancel channel, 9 guard ('1': only if the BullMQ job is gone — the reconciler), 10 result key,
--       11 result expiry (ms), 12 inference sample ('ms:units'), 13 usage retention (s), 14… field/value pairs
-- Returns {1, previous status, campaign done} | {0, status or ''}
local id, to, now, ttl, tenant = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local camp = campaignKeys(14)
local r = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'campaign_index', 'callback_url', 'campaign_id', 'inputs',
  'lane')
local st = r[1]
if not st then
  -- A campaign job without a record has not started; it can be cancelled, or fail before it started (e.g. its
  -- profile could not be read), and then gets its record now.
  if not camp then return {0, ''} end
  local ended = endedWithoutRecord(camp, id)
  if ended then return {0, ended} end
  if to == 'completed' then return {0, ''} end
  local fields, cancelled = campaignJob(camp, ARGV[7], tonumber(ARGV[6]))
  if not fields or (tenant ~= '' and fields.tenant ~= tenant) then return {0, ''} end
  if cancelled then return {0, 'cancelled'} end
  redis.call('HSET', KEYS[1], unpack(flatten(fields)))
  r = { 'queued', fields.tenant, fields.campaign_index, nil, ARGV[7] }
  st = 'queued'
end
if tenant ~= '' and r[2] ~= tenant then return {0, ''} end
if TERMINAL[st] then return {0, st} end
if ARGV[9] == '1' and redis.call('EXISTS', KEYS[11]) == 1 then return {0, st} end
-- The caller passes the campaign this id would belong to; a single job's record says it has none.
if not r[5] or r[5] == '' then
  camp = nil
elseif not camp or r[5] ~= ARGV[7] then
  return redis.error_reply('the campaign keys given do not match job ' .. id)
end

if st == 'queued' and not camp then
  redis.call('ZREM', KEYS[9], id)
  redis.call('ZREM', KEYS[10], id)
end
count(KEYS[2], camp, st, to, id, r[3])
inflight(KEYS[3], r[2], -1)
redis.call('ZREM', KEYS[4], id)
-- One write: the end, the caller's fields, and 100 % for a completed job (a failed one keeps how far it got).
local set = { 'status', to, 'finished_at', now }
if to == 'completed' then set[5], set[6] = 'progress', '100' end
for i = 14, #ARGV do set[#set + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(set))
-- Nothing of the request that is not needed any more stays (zero data retention, SPEC §9).
if (r[4] and r[4] ~= '') or (r[6] and r[6] ~= '') then redis.call('HDEL', KEYS[1], 'callback_url', 'inputs') end
redis.call('EXPIRE', KEYS[1], ttl)
if ARGV[10] ~= '' then redis.call('ZADD', KEYS[6], ARGV[11], ARGV[10]) end
-- The last 200 or so samples (trimmed now and then rather than on every push).
if ARGV[12] ~= '' and redis.call('LPUSH', KEYS[7], ARGV[12]) > 250 then redis.call('LTRIM', KEYS[7], 0, 199) end
-- What the tenant used this month (GET /v1/user/details): jobs that ran, and GPU time.
if st ~= 'queued' then
  if redis.call('HINCRBY', KEYS[12], 'jobs', 1) == 1 then redis.call('EXPIRE', KEYS[12], ARGV[13]) end
  local ms = tonumber(string.match(ARGV[12], '^(%d+):') or '0')
  if ms > 0 then redis.call('HINCRBY', KEYS[12], 'gpu_ms', ms) end
end
if to == 'cancelled' then
  -- Every live job: a queued one may already be held by a worker fetching its input images.
  if ARGV[8] ~= '' then redis.call('PUBLISH', ARGV[8], id) end
  -- A single job's request waits in BullMQ until a worker reaches it and drops it: its data goes now (§9).
  local bull = KEYS[11]
  if r[7] and string.sub(r[7], -3) == '.hi' then bull = KEYS[13] end
  if not camp and redis.call('HEXISTS', bull, 'data') == 1 then
    redis.call('HSET', bull, 'data', '{"kind":"cancelled"}')
  end
end

-- The webhook: a single job's sealed callback URL moves into the outbox entry; a campaign job's is its
-- campaign's, read when the event is delivered.
if camp then
  if redis.call('HEXISTS', camp.hash, 'callback_url') == 1 then
    redis.call('XADD', KEYS[5], '*', 'k', 'j', 'id', id, 'ev', to, 't', r[2], 'c', ARGV[7])
  end
elseif r[4] and r[4] ~= '' then
  redis.call('XADD', KEYS[5], '*', 'k', 'j', 'id', id, 'ev', to, 't', r[2], 'u', r[4])
end
return {1, st, campaignDone(camp, KEYS[8], KEYS[5], ARGV[7], now, ttl * 1000)}
