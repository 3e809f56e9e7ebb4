-- RedisLimiter's one script (see redis.py): bucket.Bucket's arithmetic on Redis's clock.
-- Names after a dollar sign are _constants.py's values, put in when redis.py reads this file.
-- KEYS: the bucket's hash, its leases (a sorted set of lease ids scored by expiry).
-- ARGV: now ('' reads TIME), lease seconds, this process's limits (rpm, tpm, input tpm,
-- output tpm, max concurrency; '' where unset), then operations, each a code and its fields:
--   S lease used refund*4 (limit remaining)*4   settle       U lease amount*4   release unsent
--   L cooldown   rate limited       O   overloaded       N count lease*count   renew leases
--   R lease amount*4   reserve: granted in order until one does not fit, the rest skipped
-- Reply: {granted, wait ('-1': until a slot frees), limiting factor, counts tokens (0/1)}.
local BURST, MINUTE, EPSILON = $burst, 60.0, 1e-9
local DIMS = {'requests', 'tokens', 'input tokens', 'output tokens'}
local state, leases = KEYS[1], KEYS[2]
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1e6
else
  now = tonumber(ARGV[1])
end
local lease_seconds = tonumber(ARGV[2])
local function fmt(x) return string.format('%.17g', x) end

local raw = redis.call('HGETALL', state)
local s = {}
for i = 1, #raw, 2 do s[raw[i]] = raw[i + 1] end
local function num(name, default) local v = s[name]; if v then return tonumber(v) end; return default end

local function meter(limit, factor, level, stamp, burst, ceiling)
  local m = {limit = limit, factor = factor, stamp = stamp, burst = burst, ceiling = ceiling}
  m.rate = limit * factor / MINUTE
  m.capacity = m.rate * burst
  m.level = level
  return m
end
local function refill(m)
  local elapsed = now - m.stamp
  if elapsed > 0 then
    if m.factor < 1 then
      m.factor = math.min(1, m.factor + elapsed * $recovery)
      m.rate = m.limit * m.factor / MINUTE
      m.capacity = m.rate * m.burst
    end
    m.level = math.min(m.capacity, m.level + elapsed * m.rate)
    m.stamp = now
  end
  return m.level
end
local function relimit(m, limit)
  refill(m)
  m.limit = limit
  m.rate = limit * m.factor / MINUTE
  m.capacity = m.rate * m.burst
  m.level = math.min(m.level, m.capacity)
end
local function give_back(m, amount)
  refill(m)
  m.level = math.min(m.capacity, m.level + amount)
end

local pace, reported = {}, {}
for i = 1, 4 do
  if s['pl' .. i] then
    pace[i] = meter(num('pl' .. i), num('pf' .. i), num('pv' .. i), num('ps' .. i), BURST, num('pc' .. i))
  end
  if s['rl' .. i] then reported[i] = meter(num('rl' .. i), 1, num('rv' .. i), num('rs' .. i), MINUTE, 0) end
end
local max_concurrency = num('cmax', nil)
-- this process's limits: the lowest configured wins
for i = 1, 4 do
  local limit = tonumber(ARGV[2 + i])
  if limit then
    local m = pace[i]
    if m == nil then
      local capacity = limit / MINUTE * BURST
      pace[i] = meter(limit, 1, capacity, now, BURST, 1)
    else
      if limit < m.limit then relimit(m, limit) end
      m.ceiling = 1
    end
  end
end
local mine = tonumber(ARGV[7])
if mine and (max_concurrency == nil or mine < max_concurrency) then max_concurrency = mine end
local limit_concurrency = max_concurrency or $default_max_concurrency
local window = math.min(num('win', limit_concurrency), limit_concurrency)
local cooldown_until = num('cool', 0)
local tightened_at = num('tight', -math.huge)
local narrowed_at = num('narrow', -math.huge)
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)

local function each_meter(f)  -- pace then reported, as Bucket.meters
  for i = 1, 4 do if pace[i] then f(i, pace[i], false) end end
  for i = 1, 4 do if reported[i] then f(i, reported[i], true) end end
end
local function narrow(force)
  if not force and now - narrowed_at < $overload_interval then return end
  narrowed_at = now
  local in_flight = redis.call('ZCARD', leases)
  window = math.max(1, math.floor(math.min(window, in_flight + 1) / 2))
end
local function learn(told)
  for i = 1, 4 do
    local limit, remaining = told[2 * i - 1], told[2 * i]
    local m = pace[i]
    if limit then
      if m == nil then
        local start = limit * BURST / MINUTE
        if remaining then start = math.max(-start, math.min(start, remaining - (limit - start))) end
        pace[i] = meter(limit, 1, start, now, BURST, 0)
      elseif limit < m.limit or (m.ceiling == 0 and limit ~= m.limit) then
        relimit(m, limit)
      end
    end
    if remaining then
      local capacity = limit or (m and m.limit)
      if capacity then
        local r = reported[i]
        if r == nil then
          reported[i] = meter(capacity, 1, math.min(remaining, capacity), now, MINUTE, 0)
        else
          if capacity ~= r.limit then relimit(r, capacity) end
          refill(r)
          r.level = math.min(r.capacity, remaining)
        end
      end
    end
  end
end

local granted, wait, factor, refused = 0, 0, '', false
local n, at = #ARGV, 8
while at <= n do
  local op = ARGV[at]
  if op == 'S' then
    redis.call('ZREM', leases, ARGV[at + 1])
    if ARGV[at + 2] == '1' and window < limit_concurrency then window = math.min(limit_concurrency, window + 1) end
    local told = {}
    for k = 1, 8 do told[k] = tonumber(ARGV[at + 6 + k]) end
    each_meter(function(i, m, is_reported)
      local back = tonumber(ARGV[at + 2 + i])
      if back ~= 0 and not (is_reported and told[2 * i]) then give_back(m, back) end
    end)
    learn(told)
    at = at + 15
  elseif op == 'U' then
    redis.call('ZREM', leases, ARGV[at + 1])
    each_meter(function(i, m) give_back(m, tonumber(ARGV[at + 1 + i])) end)
    at = at + 6
  elseif op == 'L' then
    local cooldown = tonumber(ARGV[at + 1])
    cooldown_until = math.max(cooldown_until, now + cooldown)
    if now - tightened_at >= $tighten_interval then
      tightened_at = now
      local any = false
      for i = 1, 4 do
        local m = pace[i]
        if m then
          refill(m)
          m.factor = math.max($min_factor, m.factor * $tighten)
          m.rate = m.limit * m.factor / MINUTE
          m.capacity = m.rate * m.burst
          m.level = math.min(m.level, -cooldown * m.rate)
          any = true
        end
      end
      if not any then narrow(true) end
    end
    at = at + 2
  elseif op == 'O' then
    narrow(false)
    at = at + 1
  elseif op == 'N' then
    local count = tonumber(ARGV[at + 1])
    for k = 1, count do redis.call('ZADD', leases, 'XX', fmt(now + lease_seconds), ARGV[at + 1 + k]) end
    at = at + 2 + count
  elseif op == 'R' then
    if not refused then
      if now < cooldown_until then
        refused, wait, factor = true, cooldown_until - now, 'cooldown'
      elseif redis.call('ZCARD', leases) >= window then
        refused, wait = true, -1
        factor = (window >= limit_concurrency) and 'concurrency' or 'overloaded'
      else
        local longest, why = 0, nil
        each_meter(function(i, m)
          local amount = tonumber(ARGV[at + 1 + i])
          local short = math.min(amount, m.capacity) - refill(m)
          local w = 0
          if short > EPSILON then w = short / m.rate end
          if w > longest then longest, why = w, DIMS[i] end
        end)
        if longest > 0 then
          refused, wait, factor = true, longest, why
        else
          each_meter(function(i, m) m.level = m.level - tonumber(ARGV[at + 1 + i]) end)
          redis.call('ZADD', leases, fmt(now + lease_seconds), ARGV[at + 1])
          granted = granted + 1
        end
      end
    end
    at = at + 6
  else
    return redis.error_reply('cloudburst limiter: unknown operation ' .. tostring(op))
  end
end

local out = {'win', fmt(window), 'cool', fmt(cooldown_until)}
if max_concurrency then table.insert(out, 'cmax'); table.insert(out, fmt(max_concurrency)) end
if tightened_at > -math.huge then table.insert(out, 'tight'); table.insert(out, fmt(tightened_at)) end
if narrowed_at > -math.huge then table.insert(out, 'narrow'); table.insert(out, fmt(narrowed_at)) end
local counts_tokens = 0
for i = 1, 4 do
  local m = pace[i]
  if m then
    for _, f in ipairs({{'pl', m.limit}, {'pf', m.factor}, {'pv', m.level}, {'ps', m.stamp}, {'pc', m.ceiling}}) do
      table.insert(out, f[1] .. i); table.insert(out, fmt(f[2]))
    end
    if i > 1 then counts_tokens = 1 end
  end
  local r = reported[i]
  if r then
    for _, f in ipairs({{'rl', r.limit}, {'rv', r.level}, {'rs', r.stamp}}) do
      table.insert(out, f[1] .. i); table.insert(out, fmt(f[2]))
    end
    if i > 1 then counts_tokens = 1 end
  end
end
redis.call('HSET', state, unpack(out))
local ttl = math.floor(math.max($state_ttl, 2 * lease_seconds) * 1000)
redis.call('PEXPIRE', state, ttl)
redis.call('PEXPIRE', leases, ttl)
return {granted, fmt(wait), factor, counts_tokens}
