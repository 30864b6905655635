-- lib.lua: what scan.lua, tally.lua and close.lua share. ledger.NewScript puts this text in
-- front of each of them, so each script is still one self-contained chunk (EVALSHA on Redis, the
-- same text in the embedded engine) and these parts exist once: the zone tree, de-duplication
-- by id, flags, the sequence number, and the per-gate report counters.
--
-- Everything here is local: Redis forbids scripts to create globals.

-- The zone tree, from the ARGV tail "n, then n triples: zone id, parent id ("" for the root),
-- capacity". readTree fills parent and capacity.
local parent, capacity, zoneOrder = {}, {}, {}
local function readTree(i)
  for k = 0, tonumber(ARGV[i]) - 1 do
    local z = ARGV[i + 1 + 3 * k]
    parent[z] = ARGV[i + 2 + 3 * k]
    capacity[z] = tonumber(ARGV[i + 3 + 3 * k])
    zoneOrder[#zoneOrder + 1] = z
  end
end

-- within reports whether place x is zone z or inside it; every place is within '' (the world).
local function within(x, z)
  if z == '' then return true end
  while x ~= '' and x ~= nil do
    if x == z then return true end
    x = parent[x]
  end
  return false
end

-- path lists the zones from x up to stop, stop excluded ('' for up to the root).
local function path(x, stop)
  local zs = {}
  while x ~= '' and x ~= nil and x ~= stop do
    zs[#zs + 1] = x
    x = parent[x]
  end
  return zs
end

-- Flags: a set parsed from "a,b", written back sorted.
local function flagSet(s)
  local set = {}
  for f in string.gmatch(s, '[^,]+') do set[f] = true end
  return set
end

local function flagString(set)
  local names = {}
  for f in pairs(set) do names[#names + 1] = f end
  table.sort(names)
  return table.concat(names, ',')
end

-- replay looks up an id in the scans hash, whose values are the first verdict and what it was
-- about: "code\tflags\tzone\toccupancy\tcapacity\tfingerprint". It returns nil for a new id, the
-- first verdict as the script's reply (replayed = 1) when fp matches, and false when the id was
-- used for something else (id_conflict). Verdicts kept before fingerprints existed match any fp.
local function replay(scans, id, fp)
  local first = redis.call('HGET', scans, id)
  if not first then return nil end
  local code, flags, zone, occ, cap, was =
    string.match(first, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$')
  if was ~= '' and was ~= fp then return false end
  return {code, flags, zone, tonumber(occ), tonumber(cap), 1}
end

-- remember keeps the first verdict of an id for replay, and returns it as the script's reply.
local function remember(scans, id, fp, code, fl, zone, occ, cap)
  redis.call('HSET', scans, id, table.concat({code, fl, zone, occ, cap, fp}, '\t'))
  return {code, fl, zone, occ, cap, 0}
end

-- nextSeq numbers a decided scan, tally or sweep: the zones hash's "|seq", which every log entry
-- of those kinds carries and Snapshot reads with the counters.
local function nextSeq(zones)
  return redis.call('HINCRBY', zones, '|seq', 1)
end

-- conflict logs a scan or tally id used before for something else, and counts it for the gate
-- when the gate is known; it moves nothing and is not numbered (it is not a decision).
local function conflict(log, day, id, device, gate, known, at, what)
  redis.call('XADD', log, '*', 'kind', 'conflict', 'id', id, 'device', device, 'gate', gate,
    'what', what, 'at', at)
  if known then redis.call('HINCRBY', day, '|g|' .. gate .. '|conflict', 1) end
  return {'id_conflict', '', '', 0, 0, 0}
end

-- perGate counts a decision at a known gate in the day's report counters: all of them, per
-- minute ("HHMM"), offline uploads and offline overrides.
local function perGate(day, gate, minute, flags)
  if gate == '' then return end
  local g = '|g|' .. gate .. '|'
  redis.call('HINCRBY', day, g .. 'scans', 1)
  redis.call('HINCRBY', day, g .. 'm' .. minute, 1)
  if flags['offline'] then redis.call('HINCRBY', day, g .. 'offline', 1) end
  if flags['offline_override'] then redis.call('HINCRBY', day, g .. 'ovr', 1) end
end

-- trendMark notes the occupancy a zone had before its first change in minute m (minutes since
-- the epoch, by the time the ledger applied the change): the board's 60-minute trend, which
-- read.lua's "trend" view turns back into the occupancy at the start of every minute.
local function trendMark(trend, z, m, before)
  redis.call('HSETNX', trend, z .. '|' .. m, before)
end

-- hourCount adds n to a zone's hourly report counter (in, out, tin, tout) of hour "HH".
local function hourCount(day, z, hour, what, n)
  redis.call('HINCRBY', day, z .. '|h' .. hour .. '|' .. what, n)
end
