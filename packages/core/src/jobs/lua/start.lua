-- START: the job got a GPU slot. A campaign job gets its record here, derived from its campaign.
-- KEYS: 1 job, 2 stats, 3 running, 4 lane queue (normal), 5 lane queue (priority), 6 campaign lane seq,
--       7… the campaign block (campaign jobs only)
-- ARGV: 1 job id, 2 now, 3 prompt, 4 seed, 5 campaign index, 6 campaign id, 7… field/value pairs
--       set on every start (e.g. warnings, prompt_hash)
-- Returns {'started', attempts, seed, prompt} | {'terminal', status} | {'missing'}
local id, now = ARGV[1], ARGV[2]
local camp = campaignKeys(7)
-- Everything START reads of the record, in one read: a retry keeps the first attempt's start time, seed and
-- prompt (so a result can always be reproduced).
local r = redis.call('HMGET', KEYS[1], 'status', 'lane', 'campaign_index', 'campaign_id', 'started_at', 'seed',
  'prompt', 'attempts')
local st, lane, idx = r[1], r[2], r[3]
if st and (not r[4] or r[4] == '') then camp = nil end
if not st then
  if not camp then return {'missing'} end
  local ended = endedWithoutRecord(camp, id)
  if ended then return {'terminal', ended} end
  local fields, cancelled = campaignJob(camp, ARGV[6], tonumber(ARGV[5]))
  if not fields then return {'missing'} end
  if cancelled then return {'terminal', 'cancelled'} end
  redis.call('HSET', KEYS[1], unpack(flatten(fields)))
  st, lane, idx = 'queued', fields.lane, fields.campaign_index
  -- How far the campaign lane has got, for the queue positions of the jobs still waiting.
  local head = tonumber(redis.call('HGET', KEYS[6], 'head') or '0')
  if tonumber(fields.seq) > head then redis.call('HSET', KEYS[6], 'head', fields.seq) end
end
if TERMINAL[st] then return {'terminal', st} end
if st == 'queued' and not camp then
  local hi = lane and string.sub(lane, -3) == '.hi'
  redis.call('ZREM', hi and KEYS[5] or KEYS[4], id)
end
if st ~= 'processing' then count(KEYS[2], camp, st, 'processing', id, idx) end
redis.call('ZADD', KEYS[3], now, id)
local seed, prompt = r[6] or ARGV[4], r[7] or ARGV[3]
local attempts = tonumber(r[8] or '0') + 1
redis.call('HSET', KEYS[1], 'status', 'processing', 'progress', '0', 'attempts', attempts,
  'started_at', r[5] or now, 'seed', seed, 'prompt', prompt, unpack(ARGV, 7))
return {'started', attempts, seed, prompt}
