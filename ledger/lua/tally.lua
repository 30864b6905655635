-- tally.lua: apply one tally (+n or -n people without tickets across a zone's boundary),
-- atomically (docs/rules.md, "Tallies"). lib.lua comes first.
--
-- KEYS[1] scans   hash    tally id -> its first verdict (tally and scan ids share one space)
-- KEYS[2] log     stream  the event log
-- KEYS[3] zones   hash    live counters (see scan.lua): "<zone>|tally" (its own tally balance),
--                         "|occ", "|tin", "|tout", and "|seq"
-- KEYS[4] day     hash    the tally's day's counters: "<zone>|tin", "|tout", "|peak", "|peak_at",
--                         "<zone>|h<HH>|tin", "|tout", "|occ", and the gate's
-- KEYS[5] closed  hash    date -> closing time of each closed day
-- KEYS[6] trend   hash    the board's trend (see scan.lua)
--
-- ARGV[1] tally id   ARGV[2] device   ARGV[3] gate ("" for none)   ARGV[4] zone
-- ARGV[5] delta, a non-zero integer   ARGV[6] force: 1 | 0
-- ARGV[7] flags set by the caller, comma-separated
-- ARGV[8] decision time, ms   ARGV[9] the device's time, ms   ARGV[10] hour "00".."23"
-- ARGV[11] minute "HHMM"   ARGV[12] the event day, "YYYY-MM-DD"
-- ARGV[13] the gate: accepted | unknown_gate (not in the config, or not allowed for the device)
-- ARGV[14] the minute the ledger applies the tally in, since the epoch (see scan.lua)
-- ARGV[15] n, the number of zones, then n triples: zone id, parent id ("" for the root), capacity
--
-- +n moves people from the parent's tally balance into the zone; those the parent's balance does
-- not hold were in the parent uncounted, and enter it and every zone above it too
-- (implicit_entry). -n moves at most the zone's own balance to the parent's (or outside, from the
-- root): never refused, never below zero (clamped). On a closed day nothing moves: an offline
-- upload is counted for the day's report (superseded), a live +n is refused (closed).
-- Returns {code, flags, zone, occupancy, capacity, replayed 0|1}, or {"id_conflict", ...}.

local scans, log, zones, day, closed, trend = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, device, gate, z = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local delta, force, at, devat, hour = tonumber(ARGV[5]), ARGV[6] == '1', ARGV[8], ARGV[9], ARGV[10]
-- trendMinute: the trend's minute (ARGV[14]); "applied", below, is the delta the tally applied.
local minute, date, gateCheck, trendMinute = ARGV[11], ARGV[12], ARGV[13], ARGV[14]

local fp = 't|' .. z .. '|' .. ARGV[5] .. '|' .. gate
local first = replay(scans, id, fp)
if first then return first end
local known = gate ~= '' and gateCheck == 'accepted' -- an unknown gate gets no report counters
if first == false then return conflict(log, day, id, device, gate, known, at, fp) end
readTree(15)
local p = parent[z]

local flags = flagSet(ARGV[7])

local function get(field)
  return tonumber(redis.call('HGET', zones, field) or '0')
end

-- count records n people crossing zone's boundary by tally (what: tin or tout) and its new occupancy.
local function count(zone, what, n, occ)
  if what == 'tin' then trendMark(trend, zone, trendMinute, occ - n) else trendMark(trend, zone, trendMinute, occ + n) end
  redis.call('HINCRBY', zones, zone .. '|' .. what, n)
  redis.call('HINCRBY', day, zone .. '|' .. what, n)
  hourCount(day, zone, hour, what, n)
  redis.call('HSET', day, zone .. '|h' .. hour .. '|occ', occ)
  local peak = redis.call('HGET', day, zone .. '|peak')
  if not peak and what == 'tout' then
    -- the day's first change is a departure: the occupancy before it is the peak so far
    redis.call('HSET', day, zone .. '|peak', occ + n, zone .. '|peak_at', at)
  elseif occ > tonumber(peak or '0') then
    redis.call('HSET', day, zone .. '|peak', occ, zone .. '|peak_at', at)
  end
end

local code, applied, moved, full = 'accepted', 0, 0, z
if gateCheck ~= 'accepted' then
  code = 'unknown_gate'
elseif redis.call('HEXISTS', closed, date) == 1 then
  if flags['offline'] then
    -- counted then, for the day's report; the day's closing already emptied the zone
    flags['superseded'] = true
    local what = 'tin'
    if delta < 0 then what = 'tout' end
    redis.call('HINCRBY', day, z .. '|' .. what, math.abs(delta))
    hourCount(day, z, hour, what, math.abs(delta))
  elseif delta > 0 then
    code = 'closed'
  else
    flags['clamped'] = true
  end
elseif delta > 0 then
  if p ~= '' then moved = math.min(delta, get(p .. '|tally')) end
  local extra = delta - moved
  local ok = get(z .. '|occ') + delta <= capacity[z]
  local a = p
  while ok and extra > 0 and a ~= '' do
    if get(a .. '|occ') + extra > capacity[a] then ok, full = false, a end
    a = parent[a]
  end
  if ok or force then
    if not ok then flags['forced'] = true end
    applied = delta
    if p ~= '' then
      if moved > 0 then redis.call('HINCRBY', zones, p .. '|tally', -moved) end
      if extra > 0 then flags['implicit_entry'] = true end
    end
    redis.call('HINCRBY', zones, z .. '|tally', delta)
    count(z, 'tin', delta, redis.call('HINCRBY', zones, z .. '|occ', delta))
    a = p
    while extra > 0 and a ~= '' do
      count(a, 'tin', extra, redis.call('HINCRBY', zones, a .. '|occ', extra))
      a = parent[a]
    end
  else
    code, moved = 'zone_full', 0
  end
else
  local m = math.min(-delta, get(z .. '|tally'))
  applied = 0 - m -- "0 -", not "-": no negative zero in the log
  if applied ~= delta then flags['clamped'] = true end
  if m > 0 then
    redis.call('HINCRBY', zones, z .. '|tally', -m)
    count(z, 'tout', m, redis.call('HINCRBY', zones, z .. '|occ', -m))
    if p ~= '' then
      moved = m
      redis.call('HINCRBY', zones, p .. '|tally', m)
    end
  end
end
if code ~= 'accepted' then
  redis.call('HINCRBY', zones, z .. '|r:' .. code, 1)
  redis.call('HINCRBY', day, z .. '|r:' .. code, 1)
end
if known then perGate(day, gate, minute, flags) end

local fl = flagString(flags)
local vz = z
if code == 'zone_full' then vz = full end
local occ, cap = get(vz .. '|occ'), capacity[vz]
redis.call('XADD', log, '*', 'kind', 'tally', 'seq', nextSeq(zones), 'id', id, 'device', device,
  'gate', gate, 'zone', z, 'delta', delta, 'applied', applied, 'moved', moved, 'code', code,
  'flags', fl, 'at', at, 'device_at', devat)
return remember(scans, id, fp, code, fl, vz, occ, cap)
