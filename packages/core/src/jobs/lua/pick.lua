-- PICK: the lanes a worker should fetch from next — those due, served least recently first — re-scored as
-- served now, so the next worker (or the next call) takes the lanes after them: tenants take turns.
-- KEYS: 1 ready. ARGV: 1 now, 2 how many.
-- Returns {lane…, '', head score or '', lanes in the index}
local now = tonumber(ARGV[1])
local lanes = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for i, lane in ipairs(lanes) do
  -- A thousandth of a millisecond apart, so lanes picked together keep their order.
  redis.call('ZADD', KEYS[1], now + i / 1000, lane)
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
table.insert(lanes, '')
table.insert(lanes, head[2] or '')
table.insert(lanes, redis.call('ZCARD', KEYS[1]))
return lanes
