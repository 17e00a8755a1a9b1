-- READ: a job's status record and its queue position, in one round trip whatever the queue depth and however
-- many campaigns wait (SPEC §4, §13): no scan, no loop over other jobs or campaigns.
-- KEYS: 1 job, 2 lane queue (normal), 3 lane queue (priority), 4 campaign lane seq, 5… the campaign block
--       of the campaign this id would belong to, if it can be a campaign job
-- ARGV: 1 job id, 2 tenant, 3 campaign index, 4 campaign id
-- Returns the record's field/value list plus '__ahead', or nil for unknown and foreign ids.
local id, tenant = ARGV[1], ARGV[2]
local rec = redis.call('HGETALL', KEYS[1])
if #rec == 0 then
  local camp = campaignKeys(5)
  if not camp then return nil end
  local fields, cancelled, cancelledAt = campaignJob(camp, ARGV[4], tonumber(ARGV[3]))
  if not fields or fields.tenant ~= tenant then return nil end
  local ended = endedWithoutRecord(camp, id)
  if ended then
    -- It ran and its record has expired: it stays ended (never "queued" again).
    fields.status, fields.__expired = ended, '1'
  elseif cancelled then
    fields.status, fields.finished_at = 'cancelled', cancelledAt
    fields.failure_reason_code, fields.retryable, fields.error = 'CANCELLED', '0', 'the campaign was cancelled'
  else
    -- Campaign jobs start in lane order: those between the lane's head and this one are ahead, plus the
    -- tenant's priority lane, which is served first. (An estimate: single jobs take turns with them.)
    local head = tonumber(redis.call('HGET', KEYS[4], 'head') or '0')
    local ahead = math.max(0, tonumber(fields.seq) - head - 1)
    fields.__ahead = tostring(ahead + redis.call('ZCARD', KEYS[3]))
  end
  fields.seq = nil
  return flatten(fields)
end
local f = {}
for i = 1, #rec, 2 do f[rec[i]] = rec[i + 1] end
if f.tenant ~= tenant then return nil end
if f.status == 'queued' and not f.campaign_id then
  local hi = f.lane and string.sub(f.lane, -3) == '.hi'
  local ahead = redis.call('ZRANK', hi and KEYS[3] or KEYS[2], id)
  if ahead then
    if not hi then ahead = ahead + redis.call('ZCARD', KEYS[3]) end
    table.insert(rec, '__ahead')
    table.insert(rec, tostring(ahead))
  end
end
return rec
