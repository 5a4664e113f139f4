-- Makes the next token its family's current one, or says why not. A token
-- of a live family that is not its current one is a replay: it revokes
-- the family, whatever its own expiry. KEYS: the family. ARGV: the
-- presented token's digest, the next one's, the next one's expiry, now
-- (Unix seconds), and the 32 bytes that turn the family key's wrapping
-- under the presented token into its wrapping under the next.
local f = redis.call('HMGET', KEYS[1], 'cur', 'cexp', 'fexp', 'revoked', 'sub', 'wrap')
if not f[1] then return {'unknown'} end
local now = tonumber(ARGV[4])
if tonumber(f[3]) <= now then return {'expired'} end
if f[4] == '1' then return {'revoked'} end
if f[1] ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  return {'reused'}
end
if tonumber(f[2]) <= now then return {'expired'} end
local wrap, delta, out = f[6], ARGV[5], {}
for i = 1, #wrap do
  out[i] = string.char(bit.bxor(string.byte(wrap, i), string.byte(delta, i)))
end
local cexp = string.format('%d', math.min(tonumber(ARGV[3]), tonumber(f[3])))
redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'cexp', cexp, 'wrap', table.concat(out))
return {'rotated', f[5], f[6], f[3]}
