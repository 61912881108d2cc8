-- Finish a request: settle its reservation to the real cost (or record a
-- result that never reserved), store the events for re-publication, and
-- report threshold crossings exactly once.
--
-- KEYS[1] req:<id>   KEYS[2] leases   KEYS[3..] b:<budget>:<period> reserved
-- ARGV: request_id, approved (1|0), cost_nano, tokens, retention_s,
--       completion, usage (stored.h's forms), then per budget key: budget id, limit_nano
--       (-1 = none), limit_tokens (-1 = none), thresholds ("50,80,100")
--
-- The usage JSON carries "#tg:spent:<i>#" (quoted) where budget i's spent
-- value after settlement goes; only this script knows those values. It
-- stores the usage as given with the values beside it ('spent', "v1,v2")
-- and replies with the values only: the worker fills the markers in
-- (tg_ledger_usage_fill) on the first publication and on every
-- re-publication alike, so both are the same bytes. Redis does no string
-- work on the events and sends none of them back. The worker sends them
-- packed (ledger/stored.h: zstd with a dictionary, ~1/3 of the ~1.5 KB;
-- or JSON as before when that would not shrink): this script stores and returns the
-- bytes as they are, and only the worker unpacks them.
--
-- Replies: {"done", completion, usage, alerts, spent} already finished
-- (re-publish; alerts are the crossings this request reported, one per
-- line, so they go out again with its events if those never committed);
-- {"ok", spent, overrun_nano, alert...} where each alert is
-- "budget|period-key|threshold|spent|limit|usd" (or "|tokens" for a
-- budget that limits tokens only).
--
-- Cost: every redis.call is a command for Redis and, being a write, one
-- more for the AOF, so the script makes as few as it can: the spent value
-- before comes from HINCRBY's reply, not a read; a reserved record keeps
-- the TTL admit.lua gave it (retention counts from admission) and its
-- stale lease fields (ignored once 'done'); a never reserved one has no
-- lease to remove. Money stays in HINCRBY (exact int64).

-- Whether a whole percentage of limit lies in (before, after]: if none,
-- no threshold (whole percentages, 1-1000) can have been crossed and they
-- are not even parsed (tonumber is dear here). The 1e-6 margin exceeds the
-- doubles' rounding for any percentage a threshold can have, so this never
-- skips a crossing; the exact test follows it.
local function may_cross(before, after, limit)
  return math.floor(after * 100 / limit + 1e-6) >
         math.floor(before * 100 / limit - 1e-6)
end

local rec = redis.call('HMGET', KEYS[1], 'state', 'completion', 'usage',
                       'resNano', 'resTokens', 'alerts', 'spent')
if rec[1] == 'done' then
  return {'done', rec[2], rec[3], rec[6] or '', rec[7] or ''}
end

local reserved = rec[1] == 'reserved'
local approved = ARGV[2] == '1'
local cost, tokens = ARGV[3], ARGV[4]
local cost_n, tokens_n = tonumber(cost), tonumber(tokens)
local overrun = 0
local rel_nano, rel_tokens
if reserved then
  local res_nano = tonumber(rec[4]) or 0
  rel_nano = string.format('%d', -res_nano)
  rel_tokens = string.format('%d', -(tonumber(rec[5]) or 0))
  if approved and cost_n > res_nano then
    overrun = cost_n - res_nano
  end
end
local overrun_s = string.format('%d', overrun)
local alerts, spent = {}, {}

for i = 3, #KEYS do
  local key = KEYS[i]
  local a = 8 + (i - 3) * 4
  if reserved then
    redis.call('HINCRBY', key, 'reserved', rel_nano)
    redis.call('HINCRBY', key, 'reservedTokens', rel_tokens)
  end
  if approved then
    local after = redis.call('HINCRBY', key, 'spent', cost)
    local tafter = redis.call('HINCRBY', key, 'spentTokens', tokens)
    redis.call('HINCRBY', key, 'approved', '1')
    if overrun > 0 then
      redis.call('HINCRBY', key, 'overrunNano', overrun_s)
    end
    spent[i - 2] = string.format('%d', after)
    -- A money limit alerts on money; a token-only budget on tokens.
    local before, limit, kind, field = after - cost_n,
                                       tonumber(ARGV[a + 1]), 'usd', 'alert:'
    if limit <= 0 then
      limit, kind, field = tonumber(ARGV[a + 2]), 'tokens', 'alertTokens:'
      before, after = tafter - tokens_n, tafter
    end
    if limit > 0 and may_cross(before, after, limit) then
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
  else
    spent[i - 2] = redis.call('HGET', key, 'spent') or '0'
  end
end

local spent_s = table.concat(spent, ',')
redis.call('HSET', KEYS[1], 'state', 'done', 'completion', ARGV[6],
           'usage', ARGV[7], 'alerts', table.concat(alerts, '\n'),
           'spent', spent_s)
if reserved then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
local reply = {'ok', spent_s, overrun_s}
for i = 1, #alerts do reply[i + 3] = alerts[i] end
return reply
