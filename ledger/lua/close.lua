-- close.lua: close the event days that are due, atomically and once each (docs/rules.md, "Days").
-- lib.lua comes first.
--
-- KEYS[1] place   hash    ticket id -> its zone (see scan.lua)
-- KEYS[2] zones   hash    live counters (see scan.lua)
-- KEYS[3] log     stream  the event log
-- KEYS[4] closed  hash    date -> closing time, ms, of each closed day
-- KEYS[5] last    hash    ticket id -> time of its latest scan (see scan.lua)
-- KEYS[6] trend   hash    the board's trend (see scan.lua): each zone the sweep empties is
--                         marked in the minute of the closing time, and the marks of minutes
--                         more than an hour before it, which no trend reads again, are deleted
-- KEYS[7..6+n]    the day hashes of the n days in ARGV, in the same order
--
-- ARGV[1] who closes (a gateway, a command)   ARGV[2] n, the number of days to close
-- ARGV[3..2+2n] n pairs: date "YYYY-MM-DD", its closing time in ms; oldest first
-- then the zone tree, as scan.lua takes it
--
-- Each day of the list that is not closed yet is marked closed. The first of them takes the
-- sweep: whoever the ledger still has inside was inside when it closed, since any scan after
-- its closing time would have closed it first. Every ticket inside gets a "swept" log entry for
-- its zone and goes outside; each zone from its place up to the root counts it as swept; every
-- tally balance goes to zero and the people it held count as swept_tally in that zone and every
-- zone above it; every zone's occupancy is zero. A "close" log entry follows, per day closed.
-- Returns {date, swept, swept_tally} per day closed now ("zone:n,..." lists, zones in tree
-- order), and an empty list when every day given was closed already.

local place, zones, log, closed, last, trend = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local who, n = ARGV[1], tonumber(ARGV[2])
readTree(3 + 2 * n)

local function list(counts)
  local parts = {}
  for _, z in ipairs(zoneOrder) do
    if (counts[z] or 0) > 0 then parts[#parts + 1] = z .. ':' .. counts[z] end
  end
  return table.concat(parts, ',')
end

local out, done = {}, false
for i = 1, n do
  local date, at, day = ARGV[1 + 2 * i], ARGV[2 + 2 * i], KEYS[6 + i]
  if redis.call('HSETNX', closed, date, at) == 1 then
    local s, st = {}, {}
    if not done then
      done = true
      local inside, tickets = redis.call('HGETALL', place), {}
      for k = 1, #inside, 2 do tickets[#tickets + 1] = {inside[k], inside[k + 1]} end
      table.sort(tickets, function(a, b) return a[1] < b[1] end) -- the same log on every engine
      for _, tz in ipairs(tickets) do
        redis.call('XADD', log, '*', 'kind', 'swept', 'seq', nextSeq(zones), 'ticket', tz[1],
          'zone', tz[2], 'at', at, 'device', who)
        for _, a in ipairs(path(tz[2], '')) do s[a] = (s[a] or 0) + 1 end
      end
      for _, z in ipairs(zoneOrder) do
        local held = tonumber(redis.call('HGET', zones, z .. '|tally') or '0')
        if held > 0 then
          for _, a in ipairs(path(z, '')) do st[a] = (st[a] or 0) + held end
        end
      end
      local fields = redis.call('HGETALL', zones)
      for k = 1, #fields, 2 do
        if string.find(fields[k], '|t:', 1, true) then redis.call('HDEL', zones, fields[k]) end
      end
      local m = string.format('%d', math.floor(tonumber(at) / 60000))
      for _, z in ipairs(zoneOrder) do
        local occ = tonumber(redis.call('HGET', zones, z .. '|occ') or '0')
        if occ ~= 0 then trendMark(trend, z, m, occ) end
        redis.call('HSET', zones, z .. '|occ', 0, z .. '|tally', 0)
        if s[z] then redis.call('HINCRBY', zones, z .. '|swept', s[z]) end
      end
      local keep, marks = tonumber(m) - 60, redis.call('HGETALL', trend)
      for k = 1, #marks, 2 do
        local minute = tonumber(string.match(marks[k], '|(%d+)$'))
        if minute and minute < keep then redis.call('HDEL', trend, marks[k]) end
      end
      redis.call('DEL', place, last)
    end
    redis.call('HSET', day, '|closed', at)
    for _, z in ipairs(zoneOrder) do
      if s[z] then redis.call('HINCRBY', day, z .. '|swept', s[z]) end
      if st[z] then redis.call('HINCRBY', day, z .. '|swept_tally', st[z]) end
    end
    local sl, stl = list(s), list(st)
    redis.call('XADD', log, '*', 'kind', 'close', 'seq', nextSeq(zones), 'day', date,
      'swept', sl, 'swept_tally', stl, 'at', at, 'device', who)
    out[#out + 1] = {date, sl, stl}
  end
end
return out
