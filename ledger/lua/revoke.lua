-- revoke.lua: add tickets to the revocation list and log it.
--
-- KEYS[1] revoked set   KEYS[2] log stream
-- ARGV[1] decision time, ms   ARGV[2] who (device or operator)   ARGV[3..] ticket ids
-- Returns how many were not revoked before.

local added = 0
for i = 3, #ARGV do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    added = added + 1
    redis.call('XADD', KEYS[2], '*', 'kind', 'revoke', 'ticket', ARGV[i], 'device', ARGV[2],
      'at', ARGV[1])
  end
end
return added
