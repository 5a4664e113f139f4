-- The first token of a new family. KEYS: the token, the family.
-- ARGV: family id, wrapped family key, token expiry, sealed subject,
-- family expiry (Unix seconds).
redis.call('HSET', KEYS[2], 'sub', ARGV[4], 'exp', ARGV[5], 'revoked', '0')
redis.call('EXPIREAT', KEYS[2], ARGV[5])
redis.call('HSET', KEYS[1], 'fam', ARGV[1], 'wrap', ARGV[2], 'exp', ARGV[3], 'spent', '0')
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return 1
