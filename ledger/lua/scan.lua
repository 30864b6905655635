-- scan.lua: decide, count and log one scan, atomically (docs/rules.md).
--
-- KEYS[1] scans    hash    scan id -> its first verdict, "code\tflags\tzone\toccupancy\tcapacity"
-- KEYS[2] place    hash    ticket id -> the zone it is in (absent: outside)
-- KEYS[3] revoked  set     revoked ticket ids
-- KEYS[4] log      stream  the event log: one entry per decided scan
-- KEYS[5] zones    hash    live counters, field "<zone>|<name>": occ, in, out, tin, tout, tally,
--                          t:<ticket type> (occupants by type), r:<code> (refusals); and "|seq",
--                          the number of decided scans and tallies, which every log entry carries
-- KEYS[6] day      hash    the day's counters for reports: "<zone>|in", "|out", "|uv", "|peak",
--                          "|peak_at", "|r:<code>", and per hour "<zone>|h<HH>|in", "|out", "|occ"
-- KEYS[7] seen     hash    the day's visitors: "<zone>|<ticket>" -> 1 (unique visitors, re-entry)
--
-- ARGV[1]  scan id              ARGV[2]  device             ARGV[3]  gate
-- ARGV[4]  the gate's zone, "" when the gate is unknown or not allowed
-- ARGV[5]  direction: in | out  ARGV[6]  ticket id, "" when the ticket did not verify
-- ARGV[7]  ticket type          ARGV[8]  the stateless checks' code (accepted, invalid_ticket,
--                                        unknown_gate, not_valid_today, closed, no_access)
-- ARGV[9]  re-entry allowed: 1 | 0
-- ARGV[10] override: 0 none | 1 force (a supervisor) | A admitted (an offline gate already let the
--          person in: what would refuse them now is noted as the flag offline_override instead)
-- ARGV[11] flags set by the caller, comma-separated (offline, clock_skew)
-- ARGV[12] decision time, ms since the epoch   ARGV[13] the device's time, ms
-- ARGV[14] hour of the decision time in the event's time zone, "00".."23"
-- ARGV[15] n, the number of zones, then n triples: zone id, parent id ("" for the root), capacity
--
-- Returns {code, flags, zone, occupancy, capacity, replayed 0|1}. The script reads no clock and
-- no randomness: given its arguments it is deterministic, so the embedded engine can replay it.

local scans, place, revoked, log, zones, day, seen =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local id, device, gate, gz, dir, ticket, ttype, pre =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local reentry, at, devat, hour = ARGV[9] == '1', ARGV[12], ARGV[13], ARGV[14]
local force, admitted = ARGV[10] == '1', ARGV[10] == 'A'

local first = redis.call('HGET', scans, id)
if first then
  local code, flags, zone, occ, cap =
    string.match(first, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
  return {code, flags, zone, tonumber(occ), tonumber(cap), 1}
end

local parent, capacity = {}, {}
for i = 0, tonumber(ARGV[15]) - 1 do
  local z = ARGV[16 + 3 * i]
  parent[z] = ARGV[17 + 3 * i]
  capacity[z] = tonumber(ARGV[18 + 3 * i])
end

local flags = {}
for f in string.gmatch(ARGV[11], '[^,]+') do flags[f] = true end

-- within reports whether place x is zone z or inside it; every place is within '' (the world).
local function within(x, z)
  if z == '' then return true end
  while x ~= '' and x ~= nil do
    if x == z then return true end
    x = parent[x]
  end
  return false
end

-- path lists the zones from x up to stop, stop excluded.
local function path(x, stop)
  local zs = {}
  while x ~= '' and x ~= nil and x ~= stop do
    zs[#zs + 1] = x
    x = parent[x]
  end
  return zs
end

local function occupancy(z)
  return tonumber(redis.call('HGET', zones, z .. '|occ') or '0')
end

local function hourly(z, what, occ)
  redis.call('HINCRBY', day, z .. '|h' .. hour .. '|' .. what, 1)
  redis.call('HSET', day, z .. '|h' .. hour .. '|occ', occ)
end

local function enter(z)
  local occ = redis.call('HINCRBY', zones, z .. '|occ', 1)
  redis.call('HINCRBY', zones, z .. '|in', 1)
  redis.call('HINCRBY', zones, z .. '|t:' .. ttype, 1)
  redis.call('HINCRBY', day, z .. '|in', 1)
  hourly(z, 'in', occ)
  if occ > tonumber(redis.call('HGET', day, z .. '|peak') or '0') then
    redis.call('HSET', day, z .. '|peak', occ, z .. '|peak_at', at)
  end
  if redis.call('HSETNX', seen, z .. '|' .. ticket, 1) == 1 then
    redis.call('HINCRBY', day, z .. '|uv', 1)
  end
end

-- firstPeak records, when a zone's first change of the day is a departure, the occupancy it
-- had before it as the day's peak so far: people still inside from earlier count too.
local function firstPeak(z, before)
  if redis.call('HSETNX', day, z .. '|peak', before) == 1 then
    redis.call('HSET', day, z .. '|peak_at', at)
  end
end

local function leave(z)
  local occ = redis.call('HINCRBY', zones, z .. '|occ', -1)
  firstPeak(z, occ + 1)
  redis.call('HINCRBY', zones, z .. '|out', 1)
  if redis.call('HINCRBY', zones, z .. '|t:' .. ttype, -1) <= 0 then
    redis.call('HDEL', zones, z .. '|t:' .. ttype)
  end
  redis.call('HINCRBY', day, z .. '|out', 1)
  hourly(z, 'out', occ)
end

local from = ''
if ticket ~= '' then from = redis.call('HGET', place, ticket) or '' end
local to = from

local function finish(code, vz)
  local names = {}
  for f in pairs(flags) do names[#names + 1] = f end
  table.sort(names)
  local fl = table.concat(names, ',')
  local occ, cap = 0, 0
  if vz ~= '' then occ, cap = occupancy(vz), capacity[vz] end
  if to ~= from then
    if to == '' then redis.call('HDEL', place, ticket) else redis.call('HSET', place, ticket, to) end
  end
  if code ~= 'accepted' and gz ~= '' then
    redis.call('HINCRBY', zones, gz .. '|r:' .. code, 1)
    redis.call('HINCRBY', day, gz .. '|r:' .. code, 1)
  end
  local seq = redis.call('HINCRBY', zones, '|seq', 1)
  redis.call('XADD', log, '*', 'kind', 'scan', 'seq', seq, 'id', id, 'device', device, 'gate', gate,
    'zone', gz, 'dir', dir, 'ticket', ticket, 'type', ttype, 'code', code, 'flags', fl,
    'from', from, 'to', to, 'at', at, 'device_at', devat)
  redis.call('HSET', scans, id, table.concat({code, fl, vz, occ, cap}, '\t'))
  return {code, fl, vz, occ, cap, 0}
end

if gz == '' or pre == 'unknown_gate' or capacity[gz] == nil then
  return finish('unknown_gate', '')
end
local p = parent[gz]

if dir == 'out' then
  if ticket == '' or pre == 'invalid_ticket' then
    flags['not_inside'], flags['unverified'] = true, true
  elseif within(from, gz) then
    for _, z in ipairs(path(from, p)) do leave(z) end
    to = p
  elseif p ~= '' and within(from, p) then
    flags['not_inside'] = true
    for _, z in ipairs(path(from, p)) do leave(z) end
    to = p
  else
    flags['not_inside'] = true
  end
  return finish('accepted', gz)
end

-- waived reports whether a refusal is overridden, and notes how: a supervisor's force waives the
-- passback and capacity checks; an offline admission waives every check but the signature.
local function waived(supervisable)
  if admitted then
    flags['offline_override'] = true
    return true
  end
  if force and supervisable then
    flags['forced'] = true
    return true
  end
  return false
end

if ticket == '' or pre == 'invalid_ticket' then return finish('invalid_ticket', gz) end
if redis.call('SISMEMBER', revoked, ticket) == 1 and not waived(false) then return finish('revoked', gz) end
if pre ~= 'accepted' and not waived(false) then return finish(pre, gz) end

if within(from, gz) then
  if not waived(true) then return finish('already_inside', gz) end
  for _, z in ipairs(path(from, gz)) do leave(z) end
  to = gz
  return finish('accepted', gz)
end

if not reentry and redis.call('HEXISTS', seen, gz .. '|' .. ticket) == 1 and not waived(true) then
  return finish('already_used', gz)
end

-- The lowest zone that holds both the ticket's place and the gate's zone: the move leaves
-- everything below it on the ticket's side and enters everything below it on the gate's side.
local common = p
if not within(from, p) then
  common = gz
  while common ~= '' and not within(from, common) do common = parent[common] end
end

local gains = path(gz, common)
for _, z in ipairs(gains) do
  if occupancy(z) + 1 > capacity[z] and not waived(true) then return finish('zone_full', z) end
end
if common ~= p then
  flags['implicit_entry'] = true
elseif from ~= p then
  flags['moved_from_sibling'] = true
end
for _, z in ipairs(path(from, common)) do leave(z) end
for _, z in ipairs(gains) do enter(z) end
to = gz
return finish('accepted', gz)
