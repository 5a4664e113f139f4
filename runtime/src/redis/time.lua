-- Nanosecond timestamps as two exact numbers, seconds and nanoseconds:
-- Lua's numbers are doubles, exact only up to 2^53, and a Unix time in
-- nanoseconds is larger. A state is stored as the decimal nanoseconds,
-- the same u64 the Rust arithmetic (warden::limit::gcra) works on.
local E = 1000000000
local function parse(v)
  local n = #v
  if n <= 9 then return 0, tonumber(v) end
  return tonumber(string.sub(v, 1, n - 9)), tonumber(string.sub(v, n - 8))
end
local function show(s, n)
  if s == 0 then return string.format('%d', n) end
  return string.format('%d%09d', s, n)
end
local function less(as, an, bs, bn)
  return as < bs or (as == bs and an < bn)
end
local function add(as, an, bs, bn)
  local s, n = as + bs, an + bn
  if n >= E then return s + 1, n - E end
  return s, n
end
local function sub(as, an, bs, bn)
  local s, n = as - bs, an - bn
  if n < 0 then return s - 1, n + E end
  return s, n
end
-- Whole milliseconds, rounded up: a TTL that never ends a state early.
local function millis(s, n)
  return s * 1000 + math.ceil(n / 1000000)
end
local clock = redis.call('TIME')
local now_s, now_n = tonumber(clock[1]), tonumber(clock[2]) * 1000
