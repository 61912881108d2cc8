-- Extend a live request's lease, so the reaper never releases the
-- reservation of a call that is merely long (retries, slow generations).
-- KEYS[1] req:<id>   KEYS[2] leases
-- ARGV: worker, deadline_ms, request_id
-- Replies: 1 renewed, 0 no longer ours (released, finished, taken over).
local rec = redis.call('HMGET', KEYS[1], 'state', 'worker')
if rec[1] ~= 'reserved' or rec[2] ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'lease', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
