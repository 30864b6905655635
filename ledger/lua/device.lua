-- device.lua: what a gate device last told a gateway of its queue (CONTRACT §3 hello and status),
-- shared by every gateway of the event so that each board shows every gate's unsynced scans.
--
-- KEYS[1] devices  hash  "<gate>|<device>" -> "queued\toldest ms\tconnected 1|0\tat ms\tgateway"
-- ARGV[1] the field, ARGV[2] the value
--
-- The value replaces the one before: the newest report of a device is the one that stands.

redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
