-- CAMPAIGN_ENQUEUED: runs right after a chunk of a campaign's jobs was added (same pipeline, after the adds):
-- advances the enqueue cursor and the lease if the caller still holds it, and marks the lane ready only now
-- that its jobs exist, so no worker can find it empty and drop it in between.
-- KEYS: 1 campaign, 2 enqueuing, 3 ready. ARGV: 1 campaign id, 2 enqueuer token, 3 cursor (jobs enqueued),
--       4 now, 5 lease expiry (ms), 6 lane, 7 ready channel, 8 bucket
-- Returns 1 | 0 (the lease was lost: another process enqueues now)
local c = redis.call('HMGET', KEYS[1], 'enq_owner', 'enq_cursor', 'job_count')
-- LT adds the lane, or brings forward a lane waiting for a later visit; a lane in the round-robin keeps its turn.
if redis.call('ZADD', KEYS[3], 'LT', 'CH', ARGV[4], ARGV[6]) == 1 then redis.call('PUBLISH', ARGV[7], ARGV[8]) end
if c[1] ~= ARGV[2] then return 0 end
local cursor = math.max(tonumber(ARGV[3]), tonumber(c[2] or '0'))
redis.call('HSET', KEYS[1], 'enq_cursor', cursor)
if cursor >= tonumber(c[3]) then
  redis.call('HDEL', KEYS[1], 'enq_owner')
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
end
return 1
