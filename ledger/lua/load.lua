-- Budget definitions and their version, read atomically.
-- KEYS[1] budgets:version  KEYS[2] budgets
-- Reply: {version, id1, json1, id2, json2, ...}
local reply = {redis.call('GET', KEYS[1]) or '0'}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all do reply[i + 1] = all[i] end
return reply
