-- Revokes a family (logout). KEYS: the family. One that is gone is not
-- made again.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 1
