-- Finish a request: settle its reservation to the real cost (or record a
-- result that never reserved), store the events for re-publication, and
-- report threshold crossings exactly once.
--
-- KEYS[1] req:<id>   KEYS[2] leases   KEYS[3..] b:<budget>:<period> reserved
-- ARGV: request_id, approved (1|0), cost_nano, tokens, retention_s,
--       completion, usage, then per budget key: budget id, limit_nano
--       (-1 = none), limit_tokens (-1 = none), thresholds ("50,80,100")
--
-- The usage JSON carries "#tg:spent:<i>#" (quoted) where budget i's spent
-- value after settlement goes; only this script knows it.
--
-- Replies: {"done", completion, usage, alerts} already finished
-- (re-publish; alerts are the crossings this request reported, one per
-- line, so they go out again with its events if those never committed);
-- {"ok", usage, overrun_nano, alert...} where each alert is
-- "budget|period-key|threshold|spent|limit|usd" (or "|tokens" for a
-- budget that limits tokens only).
local rec = redis.call('HMGET', KEYS[1], 'state', 'completion', 'usage',
                       'resNano', 'resTokens', 'alerts')
if rec[1] == 'done' then
  return {'done', rec[2], rec[3], rec[6] or ''}
end

local reserved = rec[1] == 'reserved'
local res_nano = tonumber(rec[4]) or 0
local res_tokens = tonumber(rec[5]) or 0
local cost = tonumber(ARGV[3])
local approved = ARGV[2] == '1'
local usage = ARGV[7]
local alerts = {}
local overrun = 0
if approved and reserved and cost > res_nano then
  overrun = cost - res_nano
end

for i = 3, #KEYS do
  local key = KEYS[i]
  local a = 8 + (i - 3) * 4
  if reserved then
    redis.call('HINCRBY', key, 'reserved', string.format('%d', -res_nano))
    redis.call('HINCRBY', key, 'reservedTokens',
               string.format('%d', -res_tokens))
  end
  local b = redis.call('HMGET', key, 'spent', 'spentTokens')
  local before = tonumber(b[1] or '0')
  local after = before
  local tbefore = tonumber(b[2] or '0')
  local tafter = tbefore
  if approved then
    after = redis.call('HINCRBY', key, 'spent', ARGV[3])
    tafter = redis.call('HINCRBY', key, 'spentTokens', ARGV[4])
    redis.call('HINCRBY', key, 'approved', 1)
    if overrun > 0 then
      redis.call('HINCRBY', key, 'overrunNano', overrun)
    end
  end
  local marker = '"#tg:spent:' .. (i - 2) .. '#"'
  local s, e = string.find(usage, marker, 1, true)
  if s then
    usage = string.sub(usage, 1, s - 1) .. string.format('%d', after) ..
            string.sub(usage, e + 1)
  end
  -- A money limit alerts on money; a token-only budget on tokens.
  local limit, kind, field = tonumber(ARGV[a + 1]), 'usd', 'alert:'
  if limit <= 0 then
    limit, kind, field = tonumber(ARGV[a + 2]), 'tokens', 'alertTokens:'
    before, after = tbefore, tafter
  end
  if approved and limit > 0 then
    for t in string.gmatch(ARGV[a + 3], '%d+') do
      local th = tonumber(t)
      if before * 100 < th * limit and after * 100 >= th * limit then
        if redis.call('HSETNX', key, field .. t, after) == 1 then
          alerts[#alerts + 1] = ARGV[a] .. '|' .. key .. '|' .. t .. '|' ..
                                string.format('%d', after) .. '|' ..
                                string.format('%d', limit) .. '|' .. kind
        end
      end
    end
  end
end

redis.call('HSET', KEYS[1], 'state', 'done', 'completion', ARGV[6],
           'usage', usage, 'alerts', table.concat(alerts, '\n'))
redis.call('HDEL', KEYS[1], 'lease', 'keys', 'worker')
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[1])
local reply = {'ok', usage, string.format('%d', overrun)}
for i = 1, #alerts do reply[i + 3] = alerts[i] end
return reply
