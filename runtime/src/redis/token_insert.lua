-- A new family, within its subject's bound of live families.
-- KEYS: the family, the subject's index (a sorted set of its families in
-- the order they began). ARGV: the current token's digest, its expiry,
-- the family's expiry (Unix seconds), the sealed subject, the wrapped
-- family key, the bound, now, the family key prefix, the family's id.
-- Families that expired leave the index first; the index never holds
-- more than the bound, so this walk is short.
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[8] .. member) == 0 then
    redis.call('ZREM', KEYS[2], member)
  end
end
while redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) do
  -- The oldest login of this subject ends, whole.
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  redis.call('DEL', ARGV[8] .. oldest[1])
end
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'cexp', ARGV[2], 'fexp', ARGV[3],
  'sub', ARGV[4], 'wrap', ARGV[5], 'revoked', '0')
redis.call('EXPIREAT', KEYS[1], ARGV[3])
-- Ordered by Redis's clock, in microseconds: the order logins began.
local clock = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(clock[1]) * 1000000 + tonumber(clock[2]), ARGV[9])
-- The index lives as long as its longest-lived family.
local ttl = redis.call('TTL', KEYS[2])
if ttl < 0 or tonumber(ARGV[7]) + ttl < tonumber(ARGV[3]) then
  redis.call('EXPIREAT', KEYS[2], ARGV[3])
end
return 1
