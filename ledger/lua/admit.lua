-- Reserve a request's worst-case cost against every matching budget, all or
-- nothing, and remember the request (idempotency).
--
-- KEYS[1] budgets:version   KEYS[2] req:<id>   KEYS[3] leases
-- KEYS[4..3+n] b:<budget>:<period>, one per budget spec in ARGV
-- KEYS[4+n..3+2n] rate:<budget>:<minute>, the same budgets' rate windows
-- ARGV: version, worker, now_ms, lease_ms, res_nano, res_tokens, retention_s,
--       request_id, then per budget: id, limit_nano (-1 = none),
--       limit_tokens (-1 = none), rpm (0 = none), tpm (0 = none);
--       then, only when a budget may degrade (docs/operations.md, "Service
--       tiers, prompt caching and request metadata"): the request's tier,
--       and per budget: degrade_pct (0 = never), degrade_tier, and the
--       bound at that tier (-1 = not offered or not cheaper).
--
-- Degrading is decided here, with the admission, so it is atomic: a budget
-- whose spent has reached degrade_pct % of its limit moves the request to
-- its tier (the cheapest such bound wins), and the limits are then checked
-- against that tier's bound; only when even that does not fit is the
-- request rejected (or deferred). The tier and the budget are kept in the
-- request record, for a resume.
--
-- Replies: {"stale", version} definitions changed since the caller loaded
-- them; {"done", completion, usage, alerts, spent} already finished:
-- re-publish, the usage's markers filled with spent as finish.lua says;
-- {"busy", ms} another live worker holds it; {"resume", keys, res_nano,
-- res_tokens} a dead worker's reservation, now ours;
-- {"rejected", budget, kind, limit, used} over a limit, nothing written;
-- {"rate", budget, wait_ms} over a rate limit: hold it and try again then;
-- {"ok", spent_1, ...} reserved, and with the degrade arguments given
-- {"ok", spent_1, ..., spent_n, tier, degraded_by ('' = none), res_nano}.
-- A resume adds the record's tier and degraded_by after res_tokens.
local version = redis.call('GET', KEYS[1]) or '0'
if version ~= ARGV[1] then
  return {'stale', version}
end

local rec = redis.call('HMGET', KEYS[2], 'state', 'worker', 'lease', 'keys',
                       'resNano', 'resTokens', 'completion', 'usage',
                       'alerts', 'spent', 'tier', 'degradedBy')
local now = tonumber(ARGV[3])
if rec[1] == 'done' then
  return {'done', rec[7], rec[8], rec[9] or '', rec[10] or ''}
end
if rec[1] == 'reserved' then
  local lease = tonumber(rec[3]) or 0
  if rec[2] ~= ARGV[2] and lease > now then
    return {'busy', string.format('%d', lease - now)}
  end
  local deadline = string.format('%d', now + tonumber(ARGV[4]))
  redis.call('HSET', KEYS[2], 'worker', ARGV[2], 'lease', deadline)
  redis.call('ZADD', KEYS[3], deadline, ARGV[8])
  return {'resume', rec[4], rec[5], rec[6], rec[11] or '', rec[12] or ''}
end

local res_nano = tonumber(ARGV[5])
local res_tokens = tonumber(ARGV[6])
local n = (#KEYS - 3) / 2
local PER = 5
local function arg(i, k) return ARGV[8 + (i - 1) * PER + k] end

-- Rate limits first: a request over a rate waits, it is not rejected.
-- Fixed one-minute windows, counted at admission with the reserved tokens.
for i = 1, n do
  local rpm, tpm = tonumber(arg(i, 4)), tonumber(arg(i, 5))
  if rpm > 0 or tpm > 0 then
    local w = redis.call('HMGET', KEYS[3 + n + i], 'requests', 'tokens')
    if (rpm > 0 and (tonumber(w[1]) or 0) + 1 > rpm) or
       (tpm > 0 and (tonumber(w[2]) or 0) + res_tokens > tpm and
        (tonumber(w[2]) or 0) > 0) then
      return {'rate', arg(i, 1), string.format('%d', 60000 - now % 60000)}
    end
  end
end

-- Degrade: the request's tier, unless a budget past its mark has a
-- cheaper one (spent only: what in-flight requests reserved may still be
-- released).
local ext = 8 + n * PER
local tier, degraded_by, res_s = nil, '', ARGV[5]
if #ARGV > ext then
  tier = ARGV[ext + 1]
  for i = 1, n do
    local d = ext + 1 + (i - 1) * 3
    local pct, dres = tonumber(ARGV[d + 1]), tonumber(ARGV[d + 3])
    local limit_nano = tonumber(arg(i, 2))
    if pct > 0 and limit_nano > 0 and dres >= 0 and dres < res_nano then
      local s = tonumber(redis.call('HGET', KEYS[i + 3], 'spent')) or 0
      if s * 100 >= pct * limit_nano then
        res_nano, res_s = dres, ARGV[d + 3]
        tier, degraded_by = ARGV[d + 2], arg(i, 1)
      end
    end
  end
end

local spent = {}
for i = 1, n do
  local key = KEYS[i + 3]
  local b = redis.call('HMGET', key, 'spent', 'reserved', 'spentTokens',
                       'reservedTokens')
  local s = tonumber(b[1]) or 0
  local r = tonumber(b[2]) or 0
  local limit_nano = tonumber(arg(i, 2))
  local limit_tokens = tonumber(arg(i, 3))
  if limit_nano >= 0 and s + r + res_nano > limit_nano then
    return {'rejected', arg(i, 1), 'usd', arg(i, 2),
            string.format('%d', s + r)}
  end
  local st = tonumber(b[3]) or 0
  local rt = tonumber(b[4]) or 0
  if limit_tokens >= 0 and st + rt + res_tokens > limit_tokens then
    return {'rejected', arg(i, 1), 'tokens', arg(i, 3),
            string.format('%d', st + rt)}
  end
  spent[i] = b[1] or '0'
end

local keys = {}
for i = 1, n do
  local key = KEYS[i + 3]
  redis.call('HINCRBY', key, 'reserved', res_s)
  redis.call('HINCRBY', key, 'reservedTokens', ARGV[6])
  keys[i] = key
  if tonumber(arg(i, 4)) > 0 or tonumber(arg(i, 5)) > 0 then
    redis.call('HINCRBY', KEYS[3 + n + i], 'requests', 1)
    redis.call('HINCRBY', KEYS[3 + n + i], 'tokens', ARGV[6])
    redis.call('PEXPIRE', KEYS[3 + n + i], 120000)
  end
end
local deadline = string.format('%d', now + tonumber(ARGV[4]))
redis.call('HSET', KEYS[2], 'state', 'reserved', 'worker', ARGV[2],
           'lease', deadline, 'keys', table.concat(keys, '\n'),
           'resNano', res_s, 'resTokens', ARGV[6])
if tier then
  redis.call('HSET', KEYS[2], 'tier', tier, 'degradedBy', degraded_by)
end
redis.call('EXPIRE', KEYS[2], ARGV[7])
redis.call('ZADD', KEYS[3], deadline, ARGV[8])
local reply = {'ok'}
for i = 1, n do reply[i + 1] = spent[i] end
if tier then
  reply[n + 2], reply[n + 3], reply[n + 4] = tier, degraded_by, res_s
end
return reply
