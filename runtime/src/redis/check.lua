-- Checks every limit of one request and, only when all admit it, counts it
-- against all (GCRA; the steps of warden::limit::gcra::check).
-- KEYS: one state per limit. ARGV, four per limit: the increment
-- (interval * cost) and the tolerance, each as seconds and nanoseconds.
-- Returns {admitted (0 or 1), now, the state each limit had ("" for none)}.
local reply = {0, show(now_s, now_n)}
local writes = {}
local admitted = 1
for i, key in ipairs(KEYS) do
  local a = (i - 1) * 4
  local old = redis.call('GET', key)
  local ts, tn = now_s, now_n
  if old then
    reply[i + 2] = old
    local os, on = parse(old)
    if less(now_s, now_n, os, on) then ts, tn = os, on end
  else
    reply[i + 2] = ''
  end
  local ns, nn = add(ts, tn, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
  local ls, ln = sub(ns, nn, now_s, now_n)
  if less(tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), ls, ln) then
    admitted = 0
  else
    writes[i] = {show(ns, nn), millis(ls, ln)}
  end
end
if admitted == 1 then
  for i, key in ipairs(KEYS) do
    local w = writes[i]
    -- The TTL is the time until the state equals "never seen".
    if w[2] > 0 then redis.call('SET', key, w[1], 'PX', w[2]) end
  end
end
reply[1] = admitted
return reply
