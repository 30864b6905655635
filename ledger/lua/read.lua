-- read.lua: read-only views of the ledger, in one script so both engines serve them alike.
--
-- ARGV[1] what:
--   counters  KEYS[1] zones hash             -> HGETALL: {field, value, ...}
--   day       KEYS[1] a hash (a day's, the closed days', the devices') -> HGETALL
--   place     KEYS[1] place hash, ARGV[2] ticket id -> the zone, or false (outside)
--   revoked   KEYS[1] revoked set            -> SMEMBERS
--   log       KEYS[1] log stream, ARGV[2] the first id to return ("-" for the start),
--             ARGV[3] at most this many      -> XRANGE: {{id, {field, value, ...}}, ...}
--   tail      KEYS[1] log stream             -> the last entry's id, or false
--   trend     KEYS[1] trend hash, KEYS[2] zones hash, ARGV[2] the first minute, ARGV[3] the
--             last (since the epoch), ARGV[4..] zone ids -> per zone, its occupancy now, then
--             its trend mark of each minute from the first to the last, -1 where it has none

local what = ARGV[1]
if what == 'counters' or what == 'day' then return redis.call('HGETALL', KEYS[1]) end
if what == 'place' then return redis.call('HGET', KEYS[1], ARGV[2]) end
if what == 'revoked' then return redis.call('SMEMBERS', KEYS[1]) end
if what == 'log' then return redis.call('XRANGE', KEYS[1], ARGV[2], '+', 'COUNT', ARGV[3]) end
if what == 'tail' then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if #last == 0 then return false end
  return last[1][1]
end
if what == 'trend' then
  local out, from, to = {}, tonumber(ARGV[2]), tonumber(ARGV[3])
  for i = 4, #ARGV do
    local z = ARGV[i]
    out[#out + 1] = tonumber(redis.call('HGET', KEYS[2], z .. '|occ') or '0')
    for m = from, to do
      out[#out + 1] = tonumber(redis.call('HGET', KEYS[1], z .. '|' .. string.format('%d', m)) or '-1')
    end
  end
  return out
end
return redis.error_reply('read.lua: unknown view ' .. tostring(what))
