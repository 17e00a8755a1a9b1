-- CAMPAIGN_CREATE: records a campaign whose jobs are about to be enqueued, reserves them against the tenant's
-- in-flight limit, and makes the caller its enqueuer under a lease (a crashed enqueuer is taken over).
-- KEYS: 1 campaign, 2 its profiles, 3 its scenes, 4 stats, 5 inflight, 6 live campaigns, 7 enqueuing,
--       8 campaign lane seq, 9 BullMQ meta of the campaign lane
-- ARGV: 1 campaign id, 2 tenant, 3 lane, 4 job count, 5 max in flight, 6 now, 7 enqueuer token,
--       8 lease expiry (ms), 9 max events kept, 10 profile count P, P × 'id:version', scene count S,
--       S × scene metadata, then field/value pairs of the campaign hash
-- Returns {first lane sequence number} | {-1} (exists) | {-2, in flight} (limit)
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local cid, tenant, lane, n, max, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local current = tonumber(redis.call('HGET', KEYS[5], tenant) or '0')
if max > 0 and current + n > max then return {-2, current} end
local at = 10
local profiles = tonumber(ARGV[at])
redis.call('RPUSH', KEYS[2], unpack(ARGV, at + 1, at + profiles))
at = at + profiles + 1
local scenes = tonumber(ARGV[at])
redis.call('RPUSH', KEYS[3], unpack(ARGV, at + 1, at + scenes))
at = at + scenes + 1
local base = redis.call('HINCRBY', KEYS[8], 'seq', n) - n + 1
redis.call('HSET', KEYS[1], 'campaign_id', cid, 'tenant', tenant, 'lane', lane, 'job_count', n, 'base_seq', base,
  'created_at', now, 'queued', n, 'pending', 0, 'processing', 0, 'completed', 0, 'failed', 0, 'cancelled', 0,
  'scene_count', scenes, 'enq_owner', ARGV[7], 'enq_cursor', 0, unpack(ARGV, at))
incr(KEYS[4], 'queued', n)
inflight(KEYS[5], tenant, n)
redis.call('ZADD', KEYS[6], 0, cid)
redis.call('ZADD', KEYS[7], ARGV[8], cid)
redis.call('HSETNX', KEYS[9], 'opts.maxLenEvents', ARGV[9])
return {base}
