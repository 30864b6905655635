-- tally.lua: apply one tally (+n or -n people on a zone, without tickets), atomically.
--
-- KEYS[1] scans  hash    tally id -> its first verdict (tally and scan ids share one space)
-- KEYS[2] log    stream  the event log
-- KEYS[3] zones  hash    live counters (see scan.lua); a tally moves "<zone>|tally", "|occ",
--                        "|tin", "|tout"
-- KEYS[4] day    hash    the day's counters: "<zone>|tin", "|tout", "|peak", "|peak_at",
--                        "<zone>|h<HH>|tin", "|tout", "|occ"
--
-- ARGV[1] tally id   ARGV[2] device   ARGV[3] gate ("" for none)   ARGV[4] zone
-- ARGV[5] delta, a non-zero integer   ARGV[6] force: 1 | 0
-- ARGV[7] flags set by the caller, comma-separated
-- ARGV[8] decision time, ms   ARGV[9] the device's time, ms   ARGV[10] hour "00".."23"
-- ARGV[11] the zone's capacity
--
-- A tally counts only in its own zone. +n is refused with zone_full when it would pass the
-- capacity, unless forced; -n is never refused and lowers the tally balance by at most the
-- balance (flag clamped), so no count goes below zero.
-- Returns {code, flags, zone, occupancy, capacity, replayed 0|1}.

local scans, log, zones, day = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, device, gate, z = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local delta, force, at, devat, hour, cap =
  tonumber(ARGV[5]), ARGV[6] == '1', ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11])

local first = redis.call('HGET', scans, id)
if first then
  local code, flags, zone, occ, c =
    string.match(first, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
  return {code, flags, zone, tonumber(occ), tonumber(c), 1}
end

local flags = {}
for f in string.gmatch(ARGV[7], '[^,]+') do flags[f] = true end

local code, applied = 'accepted', 0
local occ = tonumber(redis.call('HGET', zones, z .. '|occ') or '0')
if delta > 0 then
  if occ + delta > cap then
    if force then flags['forced'] = true else code = 'zone_full' end
  end
  if code == 'accepted' then applied = delta end
else
  local balance = tonumber(redis.call('HGET', zones, z .. '|tally') or '0')
  applied = 0 - math.min(-delta, balance) -- "0 -", not "-": no negative zero in the log
  if applied ~= delta then flags['clamped'] = true end
end

if applied ~= 0 then
  local what = 'tin'
  if applied < 0 then what = 'tout' end
  redis.call('HINCRBY', zones, z .. '|tally', applied)
  occ = redis.call('HINCRBY', zones, z .. '|occ', applied)
  redis.call('HINCRBY', zones, z .. '|' .. what, math.abs(applied))
  redis.call('HINCRBY', day, z .. '|' .. what, math.abs(applied))
  redis.call('HINCRBY', day, z .. '|h' .. hour .. '|' .. what, math.abs(applied))
  redis.call('HSET', day, z .. '|h' .. hour .. '|occ', occ)
  local peak = redis.call('HGET', day, z .. '|peak')
  if not peak and applied < 0 then
    -- the day's first change is a departure: the occupancy before it is the peak so far
    redis.call('HSET', day, z .. '|peak', occ - applied, z .. '|peak_at', at)
  elseif occ > tonumber(peak or '0') then
    redis.call('HSET', day, z .. '|peak', occ, z .. '|peak_at', at)
  end
end
if code ~= 'accepted' then
  redis.call('HINCRBY', zones, z .. '|r:' .. code, 1)
  redis.call('HINCRBY', day, z .. '|r:' .. code, 1)
end

local names = {}
for f in pairs(flags) do names[#names + 1] = f end
table.sort(names)
local fl = table.concat(names, ',')
local seq = redis.call('HINCRBY', zones, '|seq', 1)
redis.call('XADD', log, '*', 'kind', 'tally', 'seq', seq, 'id', id, 'device', device, 'gate', gate,
  'zone', z, 'delta', delta, 'applied', applied, 'code', code, 'flags', fl,
  'at', at, 'device_at', devat)
redis.call('HSET', scans, id, table.concat({code, fl, z, occ, cap}, '\t'))
return {code, fl, z, occ, cap, 0}
