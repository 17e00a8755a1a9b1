-- PROGRESS: only while processing, and only forward. KEYS: 1 job. ARGV: 1 percent.
local r = redis.call('HMGET', KEYS[1], 'status', 'progress')
if r[1] ~= 'processing' then return 0 end
if tonumber(ARGV[1]) <= tonumber(r[2] or '0') then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[1])
return 1
