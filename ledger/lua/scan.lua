-- scan.lua: decide, count and log one scan, atomically (docs/rules.md). lib.lua comes first.
--
-- KEYS[1] scans    hash    scan id -> its first verdict and fingerprint (see lib.lua replay)
-- KEYS[2] place    hash    ticket id -> the zone it is in (absent: outside)
-- KEYS[3] revoked  set     revoked ticket ids
-- KEYS[4] log      stream  the event log: one entry per decided scan
-- KEYS[5] zones    hash    live counters, field "<zone>|<name>": occ, in, out, tin, tout, tally,
--                          t:<ticket type> (occupants by type), r:<code> (refusals), swept and uv
--                          (over the event); and "|seq", the number of decided scans, tallies and
--                          sweeps, which each of their log entries carries
-- KEYS[6] day      hash    the scan's day's counters for reports (docs/rules.md, "Report counters")
-- KEYS[7] seen     hash    the day's visitors: "<zone>|<ticket>" -> 1 (unique visitors, re-entry),
--                          and "@<zone>|<ticket>" -> when the ticket's current stay there began
-- KEYS[8] closed   hash    date -> closing time, ms, of each closed day
-- KEYS[9] last     hash    ticket id -> time, ms, of its latest scan that moved it (since the
--                          last closing)
-- KEYS[10] uv      hash    "<zone>|<ticket>" -> 1 over the whole event (unique visitors)
-- KEYS[11] trend   hash    "<zone>|<minute>" -> the zone's occupancy before its first change in
--                          that minute (since the epoch): the board's trend (lib.lua trendMark)
--
-- ARGV[1]  scan id              ARGV[2]  device             ARGV[3]  gate
-- ARGV[4]  the gate's zone, "" when the gate is unknown or not allowed
-- ARGV[5]  direction: in | out  ARGV[6]  ticket id, "" when the ticket did not verify
-- ARGV[7]  ticket type          ARGV[8]  the stateless checks' code (accepted, invalid_ticket,
--                                        unknown_gate, not_valid_today, closed, no_access)
-- ARGV[9]  re-entry allowed: 1 | 0
-- ARGV[10] override: 0 none | 1 force (a supervisor) | A admitted (an offline gate already let the
--          person in: what would refuse them now is noted as the flag offline_override instead)
-- ARGV[11] flags set by the caller, comma-separated (offline, clock_skew, decided_ignored)
-- ARGV[12] decision time, ms since the epoch   ARGV[13] the device's time, ms
-- ARGV[14] hour of the decision time in the event's time zone, "00".."23"
-- ARGV[15] its minute, "HHMM"   ARGV[16] the event day it falls on, "YYYY-MM-DD" (KEYS[6], KEYS[7])
-- ARGV[17] the minute the ledger applies the scan in (when the gateway received it), minutes
--          since the epoch: the trend's minute
-- ARGV[18] n, the number of zones, then n triples: zone id, parent id ("" for the root), capacity
--
-- Returns {code, flags, zone, occupancy, capacity, replayed 0|1}, or {"id_conflict", ...} for an
-- id used before with another ticket, direction or gate. The script reads no clock and no
-- randomness: given its arguments it is deterministic, so the embedded engine can replay it.

local scans, place, revoked, log, zones, day, seen, closed, last, uv, trend =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local id, device, gate, gz, dir, ticket, ttype, pre =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local reentry, at, devat, hour, minute, date = ARGV[9] == '1', ARGV[12], ARGV[13], ARGV[14],
  ARGV[15], ARGV[16]
local trendMinute = ARGV[17]
local force, admitted = ARGV[10] == '1', ARGV[10] == 'A'

local fp = 's|' .. ticket .. '|' .. dir .. '|' .. gate
local first = replay(scans, id, fp)
if first then return first end
readTree(18)
local known = capacity[gz] ~= nil and pre ~= 'unknown_gate' -- the report counts known gates only
if first == false then return conflict(log, day, id, device, gate, known, at, fp) end

local flags = flagSet(ARGV[11])

local function occupancy(z)
  return tonumber(redis.call('HGET', zones, z .. '|occ') or '0')
end

local function hourly(z, what, occ)
  hourCount(day, z, hour, what, 1)
  redis.call('HSET', day, z .. '|h' .. hour .. '|occ', occ)
end

-- visit counts the ticket among z's visitors of the day and of the event.
local function visit(z)
  if redis.call('HSETNX', seen, z .. '|' .. ticket, 1) == 1 then
    redis.call('HINCRBY', day, z .. '|uv', 1)
  end
  if redis.call('HSETNX', uv, z .. '|' .. ticket, 1) == 1 then
    redis.call('HINCRBY', zones, z .. '|uv', 1)
  end
end

local function enter(z)
  local occ = redis.call('HINCRBY', zones, z .. '|occ', 1)
  trendMark(trend, z, trendMinute, occ - 1)
  redis.call('HINCRBY', zones, z .. '|in', 1)
  redis.call('HINCRBY', zones, z .. '|t:' .. ttype, 1)
  redis.call('HINCRBY', day, z .. '|in', 1)
  hourly(z, 'in', occ)
  if occ > tonumber(redis.call('HGET', day, z .. '|peak') or '0') then
    redis.call('HSET', day, z .. '|peak', occ, z .. '|peak_at', at)
  end
  visit(z)
  redis.call('HSET', seen, '@' .. z .. '|' .. ticket, at)
end

-- firstPeak records, when a zone's first change of the day is a departure, the occupancy it
-- had before it as the day's peak so far: people still inside from earlier count too.
local function firstPeak(z, before)
  if redis.call('HSETNX', day, z .. '|peak', before) == 1 then
    redis.call('HSET', day, z .. '|peak_at', at)
  end
end

-- leave moves the ticket out of z, and ends its stay there: the stay's length in whole minutes
-- goes to the day's dwell histogram of z.
local function leave(z)
  local occ = redis.call('HINCRBY', zones, z .. '|occ', -1)
  trendMark(trend, z, trendMinute, occ + 1)
  firstPeak(z, occ + 1)
  redis.call('HINCRBY', zones, z .. '|out', 1)
  if redis.call('HINCRBY', zones, z .. '|t:' .. ttype, -1) <= 0 then
    redis.call('HDEL', zones, z .. '|t:' .. ttype)
  end
  redis.call('HINCRBY', day, z .. '|out', 1)
  hourly(z, 'out', occ)
  local stay = '@' .. z .. '|' .. ticket
  local began = redis.call('HGET', seen, stay)
  if began then
    local m = math.floor((tonumber(at) - tonumber(began)) / 60000)
    if m < 0 then m = 0 end
    redis.call('HINCRBY', day, z .. '|dw:' .. m, 1)
    redis.call('HDEL', seen, stay)
  end
end

local from = ''
if ticket ~= '' then from = redis.call('HGET', place, ticket) or '' end
local to = from
local moved = false -- the scan decided where the ticket is: it becomes the ticket's latest

local function finish(code, vz)
  local fl = flagString(flags)
  local occ, cap = 0, 0
  if vz ~= '' then occ, cap = occupancy(vz), capacity[vz] end
  if to ~= from then
    if to == '' then redis.call('HDEL', place, ticket) else redis.call('HSET', place, ticket, to) end
  end
  if moved and code == 'accepted' then
    local was = tonumber(redis.call('HGET', last, ticket) or '0')
    if tonumber(at) > was then redis.call('HSET', last, ticket, at) end
  end
  if code ~= 'accepted' and gz ~= '' then
    redis.call('HINCRBY', zones, gz .. '|r:' .. code, 1)
    redis.call('HINCRBY', day, gz .. '|r:' .. code, 1)
  end
  if known then perGate(day, gate, minute, flags) end
  redis.call('XADD', log, '*', 'kind', 'scan', 'seq', nextSeq(zones), 'id', id, 'device', device,
    'gate', gate, 'zone', gz, 'dir', dir, 'ticket', ticket, 'type', ttype, 'code', code,
    'flags', fl, 'from', from, 'to', to, 'at', at, 'device_at', devat)
  return remember(scans, id, fp, code, fl, vz, occ, cap)
end

if not known then
  return finish('unknown_gate', '')
end
local p = parent[gz]
local verified = ticket ~= '' and pre ~= 'invalid_ticket'

-- A day that has closed is over: its live scans meet an empty site, and its late uploads are
-- counted for the day's report but move nobody (docs/rules.md, "Days").
local dayClosed = redis.call('HEXISTS', closed, date) == 1
if dayClosed and not flags['offline'] then
  if dir == 'out' then
    flags['not_inside'] = true
    if not verified then flags['unverified'] = true end
    return finish('accepted', gz)
  end
  if not verified then return finish('invalid_ticket', gz) end
  return finish('closed', gz)
end

-- An offline upload older than what the ledger already knows of the ticket (its latest scan, or
-- the closing of the upload's day) is superseded: it counts, and moves nothing.
local superseded = dayClosed
if verified and flags['offline'] and not superseded then
  local was = redis.call('HGET', last, ticket)
  superseded = was ~= false and tonumber(at) < tonumber(was)
end

if dir == 'out' then
  if not verified then
    flags['not_inside'], flags['unverified'] = true, true
  elseif superseded then
    flags['superseded'] = true
    redis.call('HINCRBY', day, gz .. '|out', 1)
    hourCount(day, gz, hour, 'out', 1)
  elseif within(from, gz) then
    for _, z in ipairs(path(from, p)) do leave(z) end
    to, moved = p, true
  elseif p ~= '' and within(from, p) then
    flags['not_inside'] = true
    for _, z in ipairs(path(from, p)) do leave(z) end
    to, moved = p, true
  else
    flags['not_inside'], moved = true, true
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

if not verified then return finish('invalid_ticket', gz) end
if redis.call('SISMEMBER', revoked, ticket) == 1 and not waived(false) then return finish('revoked', gz) end
if pre ~= 'accepted' and not waived(false) then return finish(pre, gz) end

if superseded then
  -- The person went through then; where they are now is known from later scans.
  flags['superseded'] = true
  redis.call('HINCRBY', day, gz .. '|in', 1)
  hourCount(day, gz, hour, 'in', 1)
  visit(gz)
  return finish('accepted', gz)
end

moved = true
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
