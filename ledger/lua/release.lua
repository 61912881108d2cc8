-- The reaper's release of a reservation whose worker died: only when the
-- lease has really expired, so a slow but live worker keeps its request.
--
-- KEYS[1] req:<id>   KEYS[2] leases   KEYS[3..] the record's budget keys
-- ARGV: request_id, now_ms
-- Replies: 1 released, 0 not expired or not reserved.
local rec = redis.call('HMGET', KEYS[1], 'state', 'lease', 'resNano',
                       'resTokens')
if rec[1] ~= 'reserved' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if (tonumber(rec[2]) or 0) > tonumber(ARGV[2]) then
  return 0
end
for i = 3, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'reserved',
             string.format('%d', -(tonumber(rec[3]) or 0)))
  redis.call('HINCRBY', KEYS[i], 'reservedTokens',
             string.format('%d', -(tonumber(rec[4]) or 0)))
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
