-- LANE_CHECK: a visit found no job to take from a lane. Decide when it is worth a visit again: now if jobs wait
-- (another worker took the one we saw), when its first delayed job is due, after a stall interval if it only
-- has running jobs (their locks must be checked), or never: an empty lane leaves the index and its keys go, so
-- what Redis holds does not grow with the tenants that ever used it.
-- KEYS: 1 ready, 2 lane seq, 3 lane queue, then the lane's BullMQ keys: 4 wait, 5 paused, 6 prioritized,
--       7 delayed, 8 active, 9 meta, 10 events, 11 marker, 12 pc, 13 stalled-check, 14 stalled, 15 id, 16 limiter,
--       17 the bucket's campaigns being enqueued
-- ARGV: 1 lane, 2 now, 3 revisit ms
-- Returns 'ready' | 'delayed' | 'active' | 'numbered' | 'idle'
local lane, now = ARGV[1], tonumber(ARGV[2])
if redis.call('LLEN', KEYS[4]) + redis.call('LLEN', KEYS[5]) + redis.call('ZCARD', KEYS[6]) > 0 then
  redis.call('ZADD', KEYS[1], now, lane)
  return 'ready'
end
local first = redis.call('ZRANGE', KEYS[7], 0, 0, 'WITHSCORES')
if first[2] then
  -- BullMQ scores a delayed job as due time (ms) × 4096 + a counter.
  redis.call('ZADD', KEYS[1], math.floor(tonumber(first[2]) / 4096), lane)
  return 'delayed'
end
if redis.call('LLEN', KEYS[8]) > 0 then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), lane)
  return 'active'
end
-- The lane's numbering must outlive this visit while a campaign of the bucket is still being enqueued (one just
-- created has its numbers but maybe no BullMQ job yet, and its queue positions count from them) or single jobs
-- are still indexed. The lane then stays in the index, to be looked at again after the revisit interval: were it
-- dropped now, nothing would visit it again and its keys would stay for good.
if redis.call('ZCARD', KEYS[3]) > 0 or redis.call('ZCARD', KEYS[17]) > 0 then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), lane)
  return 'numbered'
end
redis.call('ZREM', KEYS[1], lane)
redis.call('DEL', KEYS[2], KEYS[3], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16])
return 'idle'
