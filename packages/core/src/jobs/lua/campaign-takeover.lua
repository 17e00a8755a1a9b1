-- CAMPAIGN_TAKEOVER: an enqueuer whose lease ran out (its process died, or Redis answered it too late) is
-- replaced by the caller, who goes on from the cursor. Only one process enqueues a campaign at a time.
-- KEYS: 1 campaign, 2 enqueuing. ARGV: 1 campaign id, 2 new token, 3 now, 4 lease expiry (ms)
-- Returns the cursor to go on from | -1 (someone else holds a live lease) | -2 (nothing to enqueue)
local lease = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not lease then return -2 end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return -2
end
if tonumber(lease) > tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], 'enq_owner', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return tonumber(redis.call('HGET', KEYS[1], 'enq_cursor') or '0')
