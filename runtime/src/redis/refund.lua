-- Gives back what admitted requests counted (the steps of
-- warden::limit::gcra::refund). KEYS: one state per limit. ARGV, two per
-- limit: the increment (interval * cost) as seconds and nanoseconds.
for i, key in ipairs(KEYS) do
  local old = redis.call('GET', key)
  if old then
    local os, on = parse(old)
    local is, inn = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
    local bs, bn = 0, 0
    if less(is, inn, os, on) then bs, bn = sub(os, on, is, inn) end
    if less(now_s, now_n, bs, bn) then
      local ls, ln = sub(bs, bn, now_s, now_n)
      redis.call('SET', key, show(bs, bn), 'PX', millis(ls, ln))
    else
      redis.call('DEL', key)
    end
  end
end
return 1
