-- RETRY: processing → pending, while the job waits out a retry back-off or was handed back by a worker that
-- is shutting down. Stays in `running`, so the reconciler still sees it.
-- KEYS: 1 job, 2 stats, 3 running, 4… the campaign block (campaign jobs only)
-- ARGV: 1 job id, 2 now, 3… field/value pairs (the failure of the attempt, or none)
local camp = campaignKeys(4)
local r = redis.call('HMGET', KEYS[1], 'status', 'campaign_index')
if r[1] ~= 'processing' then return 0 end
count(KEYS[2], camp, 'processing', 'pending', ARGV[1], r[2])
redis.call('HSET', KEYS[1], 'status', 'pending', 'progress', '0')
if #ARGV >= 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
