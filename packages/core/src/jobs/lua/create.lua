-- CREATE: records a new queued single job. Runs in one MULTI with BullMQ's add of the same job, so a crash or
-- a timed-out reply can never leave one without the other.
-- KEYS: 1 job, 2 lane seq, 3 lane queue, 4 the tenant's priority lane queue, 5 stats, 6 inflight, 7 ready,
--       8 BullMQ meta of the lane, 9 BullMQ job hash
-- ARGV: 1 job id, 2 tenant, 3 lane, 4 max in flight (0 = none), 5 order base, 6 now, 7 max events kept,
--       8 ready channel, 9 bucket, 10… field/value pairs
-- Returns {seq, jobs ahead} | {-1} (id taken) | {-2, in flight} (limit)
local id, tenant, lane, max, base = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])

-- The id is taken (a MULTI re-sent after a lost reply, or a job that exists): the BullMQ add that follows sees
-- the same id and adds nothing, and what exists is left exactly as it is.
local current = tonumber(redis.call('HGET', KEYS[6], tenant) or '0')
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
if redis.call('EXISTS', KEYS[9]) == 1 then
  -- Our own refusal, re-sent after its reply was lost: refused again (no job exists under this id).
  if redis.call('HGET', KEYS[9], 'refused') == '1' then return {-2, current} end
  return {-1}
end
if max > 0 and current >= max then
  -- Refused: a placeholder under the BullMQ job's key makes the add that follows in the MULTI a no-op (BullMQ
  -- ignores a known id); it goes by itself. Only ever for an id nothing else holds.
  redis.call('HSET', KEYS[9], 'refused', '1')
  redis.call('PEXPIRE', KEYS[9], 60000)
  return {-2, current}
end

local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
redis.call('HSET', KEYS[1], 'seq', seq, unpack(ARGV, 10))
redis.call('ZADD', KEYS[3], base + seq, id)
incr(KEYS[5], 'queued', 1)
inflight(KEYS[6], tenant, 1)
-- BullMQ keeps 10,000 events per queue unless told otherwise; nothing here reads them.
redis.call('HSETNX', KEYS[8], 'opts.maxLenEvents', ARGV[7])
-- LT adds the lane, or brings forward a lane waiting for a later visit; a lane in the round-robin keeps its turn.
if redis.call('ZADD', KEYS[7], 'LT', 'CH', ARGV[6], lane) == 1 then redis.call('PUBLISH', ARGV[8], ARGV[9]) end

local ahead = redis.call('ZRANK', KEYS[3], id)
if KEYS[3] ~= KEYS[4] then ahead = ahead + redis.call('ZCARD', KEYS[4]) end
return {seq, ahead}
