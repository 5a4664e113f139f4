-- Revokes a family: by a token of it (KEYS[1] is the token, ARGV[1] the
-- family key prefix) or by its id (KEYS[1] is the family). A family that
-- is gone (expired) is not created again.
local family = KEYS[1]
if ARGV[1] then
  local id = redis.call('HGET', KEYS[1], 'fam')
  if not id then return 0 end
  family = ARGV[1] .. id
end
if redis.call('EXISTS', family) == 0 then return 0 end
redis.call('HSET', family, 'revoked', '1')
return 1
