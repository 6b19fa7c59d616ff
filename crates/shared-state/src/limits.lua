-- Per-virtual-key limits shared by gateway replicas (see limits.rs). One script with
-- four operations, chosen by ARGV[1]: admit, settle, seed, spent. Every quantity is an
-- integer (milliseconds, tokens, micro-dollars) far below 2^53, so exact in Lua numbers;
-- numbers go back to Redis through int(), never through tostring() (which would switch
-- to exponent notation).
--
-- admit and settle get the eight keys of one virtual key (one hash tag):
--   KEYS[1] requests counted in the current minute   KEYS[2] ... in the previous minute
--   KEYS[3] tokens counted in the current minute     KEYS[4] ... in the previous minute
--   KEYS[5] leases:   zset  request id -> lease expiry (unix ms)
--   KEYS[6] held:     hash  request id -> "reserve_micros counted_tokens minute"
--   KEYS[7] reserved: micro-dollars reserved by the live leases
--   KEYS[8] spent:    micro-dollars spent in the budget period
-- seed and spent get only the spent key, as KEYS[1].

local W = 60000

local function num(v)
  return tonumber(v) or 0
end

local function int(n)
  return string.format('%.0f', n)
end

-- Takes n off the counter at key, never below zero, keeping its TTL.
local function lower(key, n)
  if n <= 0 then
    return
  end
  local v = redis.call('GET', key)
  if not v then
    return
  end
  local left = num(v) - n
  if left > 0 then
    redis.call('SET', key, int(left), 'KEEPTTL')
  else
    redis.call('DEL', key)
  end
end

local function raise(key, n, ttl)
  if n > 0 then
    redis.call('INCRBY', key, int(n))
    redis.call('PEXPIRE', key, ttl)
  end
end

-- reserve_micros, counted_tokens (-1: not counted), minute of admission.
local function parse_held(rec)
  local micros, tokens, minute = string.match(rec, '^(%d+) (%-?%d+) (%d+)$')
  return num(micros), tonumber(tokens) or -1, num(minute)
end

-- Ends one request's hold: its lease and its reservation. Returns its record, or nil
-- when it held nothing (already settled, or its lease ran out).
local function unhold(id)
  local rec = redis.call('HGET', KEYS[6], id)
  redis.call('ZREM', KEYS[5], id)
  if not rec then
    return nil
  end
  redis.call('HDEL', KEYS[6], id)
  local micros = parse_held(rec)
  lower(KEYS[7], micros)
  return rec
end

-- Leases that ran out (a replica died, or never settled) give back their slot and
-- reservation. A bounded batch per call; ZCOUNT ignores the rest meanwhile.
local function expire(now)
  local ids = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', int(now), 'LIMIT', 0, 64)
  for _, id in ipairs(ids) do
    unhold(id)
  end
  if redis.call('ZCARD', KEYS[5]) == 0 then
    -- Nothing in flight: nothing can be held or reserved (heals any drift).
    redis.call('DEL', KEYS[5], KEYS[6], KEYS[7])
  end
end

-- A sliding minute from two fixed ones: the current minute's count plus the previous
-- minute's weighted by how much of it the last 60 s still cover.
local function window(cur_key, prev_key, now)
  local cur = num(redis.call('GET', cur_key))
  local prev = num(redis.call('GET', prev_key))
  local into = now % W
  return cur, prev, cur + math.floor(prev * (W - into) / W)
end

-- The smallest offset into a minute from which floor(prev * (W - at) / W) <= room.
local function slide_at(prev, room)
  if prev <= room then
    return 0
  end
  return math.floor((prev - room - 1) * W / prev) + 1
end

-- Milliseconds until need more units fit under limit if nothing else is counted
-- meanwhile (exact under the window's own rounding), or -1 if they never can.
local function retry_after(cur, prev, limit, need, now)
  if need > limit then
    return -1
  end
  local into = now % W
  local room = limit - need - cur
  if room >= 0 then
    -- Enough of the previous minute has to slide out.
    local at = slide_at(prev, room)
    if at >= W then
      return W - into
    end
    return math.max(at - into, 1)
  end
  -- This minute alone is too full: it has to become the previous one and slide out.
  return (W - into) + math.min(slide_at(cur, limit - need), W)
end

-- Milliseconds until what is counted now has slid out of the window entirely.
local function reset_in(cur, prev, now)
  local into = now % W
  if cur > 0 then
    return 2 * W - into
  end
  if prev > 0 then
    return W - into
  end
  return 0
end

-- ARGV: op now id rpm tpm concurrency budget tokens reserve lease window_ttl hold_ttl
-- spent_ttl (limits: -1 = none; ttl 0 = none). Returns {1, remaining_requests,
-- remaining_tokens, reset_ms} (-1: no such limit), {0, reason, retry_after_ms (or
-- exhausted flag for the budget), limit, remaining}, or {-1} for a request id already
-- in flight.
local function admit()
  local now = num(ARGV[2])
  local id = ARGV[3]
  local rpm, tpm, conc, budget = num(ARGV[4]), num(ARGV[5]), num(ARGV[6]), num(ARGV[7])
  local tokens, reserve, lease = num(ARGV[8]), num(ARGV[9]), num(ARGV[10])
  local window_ttl, hold_ttl, spent_ttl = ARGV[11], ARGV[12], num(ARGV[13])

  expire(now)
  if redis.call('HEXISTS', KEYS[6], id) == 1 then
    return {-1}
  end

  local rem_req, rem_tok, reset = -1, -1, 0
  if rpm >= 0 then
    local cur, prev, used = window(KEYS[1], KEYS[2], now)
    if used + 1 > rpm then
      return {0, 1, retry_after(cur, prev, rpm, 1, now), rpm, math.max(rpm - used, 0)}
    end
    rem_req = rpm - used - 1
    reset = math.max(reset, reset_in(cur + 1, prev, now))
  end
  if tpm >= 0 then
    local cur, prev, used = window(KEYS[3], KEYS[4], now)
    -- A request larger than the whole limit goes through alone rather than never.
    local need = math.min(tokens, tpm)
    if used + need > tpm then
      return {0, 2, retry_after(cur, prev, tpm, need, now), tpm, math.max(tpm - used, 0)}
    end
    rem_tok = tpm - used - need
    reset = math.max(reset, reset_in(cur + tokens, prev, now))
  end
  if conc >= 0 then
    local live = redis.call('ZCOUNT', KEYS[5], '(' .. int(now), '+inf')
    if live >= conc then
      return {0, 3, 0, conc, 0}
    end
  end
  if budget >= 0 then
    local spent = num(redis.call('GET', KEYS[8]))
    local reserved = num(redis.call('GET', KEYS[7]))
    if spent_ttl > 0 and redis.call('PTTL', KEYS[8]) == -1 then
      -- Seeded without knowing the period's end.
      redis.call('PEXPIRE', KEYS[8], int(spent_ttl))
    end
    if spent + reserved + reserve > budget then
      local exhausted = 0
      if spent + reserve > budget then
        exhausted = 1
      end
      return {0, 4, exhausted, budget, math.max(budget - spent - reserved, 0)}
    end
  end

  -- Everything passed: count the request, its tokens, its slot and its reservation.
  if rpm >= 0 then
    raise(KEYS[1], 1, window_ttl)
  end
  local counted = -1
  if tpm >= 0 then
    counted = tokens
    raise(KEYS[3], tokens, window_ttl)
  end
  redis.call('ZADD', KEYS[5], int(now + lease), id)
  redis.call('HSET', KEYS[6], id,
    int(reserve) .. ' ' .. int(counted) .. ' ' .. int(math.floor(now / W)))
  if reserve > 0 then
    redis.call('INCRBY', KEYS[7], int(reserve))
  end
  -- The three live and expire together.
  redis.call('PEXPIRE', KEYS[5], hold_ttl)
  redis.call('PEXPIRE', KEYS[6], hold_ttl)
  redis.call('PEXPIRE', KEYS[7], hold_ttl)
  return {1, rem_req, rem_tok, reset}
end

-- ARGV: op now id tpm estimated_tokens actual_tokens actual_micros spent_ttl window_ttl.
-- Returns {released (1 if the request still held its slot), spent_micros}.
local function settle()
  local now = num(ARGV[2])
  local id = ARGV[3]
  local tpm, est, actual, cost = num(ARGV[4]), num(ARGV[5]), num(ARGV[6]), num(ARGV[7])
  local spent_ttl, window_ttl = num(ARGV[8]), ARGV[9]
  local minute = math.floor(now / W)

  local rec = unhold(id)
  expire(now)
  local released = 0
  if rec then
    released = 1
    local _, counted, at = parse_held(rec)
    if counted < 0 then
      -- Tokens were not counted at admission (no TPM limit then).
      if tpm >= 0 then
        raise(KEYS[3], actual, window_ttl)
      end
    elseif actual > counted then
      if tpm >= 0 then
        raise(KEYS[3], actual - counted, window_ttl)
      end
    elseif at == minute then
      lower(KEYS[3], counted - actual)
    elseif at == minute - 1 then
      lower(KEYS[4], counted - actual)
    end
  elseif tpm >= 0 and actual > est then
    -- No hold (its lease ran out): only add what was used beyond the estimate.
    raise(KEYS[3], actual - est, window_ttl)
  end

  if cost > 0 then
    redis.call('INCRBY', KEYS[8], int(cost))
    if spent_ttl > 0 then
      redis.call('PEXPIRE', KEYS[8], int(spent_ttl))
    end
  end
  return {released, num(redis.call('GET', KEYS[8]))}
end

-- ARGV: op micros. Sets the spent counter when it is absent or lower; never lowers it.
-- Returns {changed, spent_micros}.
local function seed()
  local want = num(ARGV[2])
  local have = redis.call('GET', KEYS[1])
  if have and num(have) >= want then
    return {0, num(have)}
  end
  -- KEEPTTL: a counter raised keeps the period's TTL it already has.
  redis.call('SET', KEYS[1], int(want), 'KEEPTTL')
  return {1, want}
end

-- Returns {exists, spent_micros}.
local function spent()
  local have = redis.call('GET', KEYS[1])
  if not have then
    return {0, 0}
  end
  return {1, num(have)}
end

local op = ARGV[1]
if op == 'admit' then
  return admit()
elseif op == 'settle' then
  return settle()
elseif op == 'seed' then
  return seed()
elseif op == 'spent' then
  return spent()
end
return redis.error_reply('unknown operation ' .. tostring(op))
