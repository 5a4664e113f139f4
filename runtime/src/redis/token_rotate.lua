-- Spends a token and stores its successor, or says why not; the replay of
-- a spent token revokes its family. KEYS: the presented token, the next.
-- ARGV: the family key prefix, now, the next token's expiry (Unix
-- seconds), and the 32 bytes that turn the presented token's wrapping of
-- the family key into the next token's.
local t = redis.call('HMGET', KEYS[1], 'fam', 'wrap', 'exp', 'spent')
if not t[1] then return {'unknown'} end
local family = ARGV[1] .. t[1]
local f = redis.call('HMGET', family, 'sub', 'exp', 'revoked')
local now = tonumber(ARGV[2])
if tonumber(t[3]) <= now or (f[2] and tonumber(f[2]) <= now) then return {'expired'} end
if not f[1] or f[3] == '1' then return {'revoked'} end
if t[4] == '1' then
  redis.call('HSET', family, 'revoked', '1')
  return {'reused'}
end
redis.call('HSET', KEYS[1], 'spent', '1')
local exp = string.format('%d', math.min(tonumber(ARGV[3]), tonumber(f[2])))
local wrap, delta, out = t[2], ARGV[4], {}
for i = 1, #wrap do
  out[i] = string.char(bit.bxor(string.byte(wrap, i), string.byte(delta, i)))
end
redis.call('HSET', KEYS[2], 'fam', t[1], 'wrap', table.concat(out), 'exp', exp, 'spent', '0')
redis.call('EXPIREAT', KEYS[2], exp)
return {'rotated', t[1], f[1], wrap, f[2]}
