package redisgame

import (
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// The rules as Redis functions. Every change to a player is one script: Redis runs a
// script alone, so the check and the count of a click are one atomic step whichever
// node sent it, and all of a player's tabs on all nodes share one throttle window.
// Every script touches the keys of one partition only, so it runs on one shard of a
// cluster. Times are microseconds of one clock: the Redis server's TIME, or ARGV's now
// when tests drive the clock.
//
// Lua numbers are doubles, exact for every integer the game keeps (up to 2^53). They
// are turned into strings with %d before Redis stores them: Lua's own conversion would
// write 1.7e+15 for a time.
//
// A player's hash fields:
//
//	h   handle              s   score            b   best
//	ba  when best was set   t   total            lc  last counted click
//	ws  window start (ms)   wn  attempts in it   v   last violation
//	na  next allowed click  m   board member     q   change counter
//	n   nodes with sockets  lf  last socket left o:<node>  sockets on a node

// scripts are the rules as Redis runs them, loaded by SHA and sent again after a
// restart of Redis empties its script cache.
type scripts struct {
	click     *rueidis.Lua
	join      *rueidis.Lua
	rename    *rueidis.Lua
	reset     *rueidis.Lua
	remove    *rueidis.Lua
	attach    *rueidis.Lua
	detach    *rueidis.Lua
	get       *rueidis.Lua
	importer  *rueidis.Lua
	heartbeat *rueidis.Lua
	leave     *rueidis.Lua
	lease     *rueidis.Lua
	release   *rueidis.Lua
}

func newScripts() *scripts {
	return &scripts{
		click:     rueidis.NewLuaScript(clickSrc),
		join:      rueidis.NewLuaScript(joinSrc),
		rename:    rueidis.NewLuaScript(renameSrc),
		reset:     rueidis.NewLuaScript(resetSrc),
		remove:    rueidis.NewLuaScript(removeSrc),
		attach:    rueidis.NewLuaScript(attachSrc),
		detach:    rueidis.NewLuaScript(detachSrc),
		get:       rueidis.NewLuaScriptReadOnly(getSrc),
		importer:  rueidis.NewLuaScript(importSrc),
		heartbeat: rueidis.NewLuaScript(heartbeatSrc),
		leave:     rueidis.NewLuaScript(leaveSrc),
		lease:     rueidis.NewLuaScript(leaseSrc),
		release:   rueidis.NewLuaScript(releaseSrc),
	}
}

// prelude is shared by the scripts.
const prelude = `
local function str(n) return string.format('%d', n) end
local function num(s) return tonumber(s) or 0 end
local function clock(arg)
  local now = tonumber(arg)
  if now then return now end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- the fields a node caches, in the order of every state reply
local F = {'h', 's', 'b', 'ba', 't', 'lc', 'v', 'na', 'q', 'n'}
local function state(status, f, now)
  return {status, f[1] or '', num(f[2]), num(f[3]), num(f[4]), num(f[5]), num(f[6]),
    num(f[7]), num(f[8]), num(f[9]), num(f[10]), now}
end
local function read(key) return redis.call('HMGET', key, unpack(F)) end
local function member(ba, flipped, handle)
  return string.format('%016x', 9007199254740991 - ba) .. flipped .. handle
end
-- rank reports whether member m is in the partition's top size
local function top(board, m, size)
  local r = redis.call('ZREVRANK', board, m)
  return r and r < size
end
`

// Every state reply is: status, then the fields F, then the script's clock.
const (
	statusGone    = -1 // no such player (removed, or never created)
	statusRefused = 0  // a click refused by the throttle
	statusOK      = 1
)

// ClickScript is the Lua source that applies one click, for benchmarks that run it
// through other clients or redis-benchmark (bench/redis). Its KEYS are a player's
// hash (which must hold an "h" field, the handle), the partition's counters and the
// partition's board; its ARGV the throttle limit, the window in ms, the penalty and
// the idle reset in µs, the board size, the player's flipped id (32 hex digits) and
// the clock in µs or "" for Redis TIME. Keys follow PlayerKeys.
const ClickScript = clickSrc

// PlayerKeys returns the three keys ClickScript takes for the player with id, and
// the id as the script's flipped-id argument.
func PlayerKeys(id uuid.UUID) (keys []string, flipped string) {
	k := newPartKeys(partitionOf(id))
	return []string{k.player(id), k.part, k.board}, flippedID(id)
}

// clickSrc applies one click attempt: the same rules as game.Engine.
//
// KEYS: player, partition, board. ARGV: limit, window ms, penalty µs, idle reset µs,
// board size, flipped id, now µs or "".
const clickSrc = prelude + `
local now = clock(ARGV[7])
local f = redis.call('HMGET', KEYS[1], 'h', 's', 'b', 'ba', 't', 'lc', 'v', 'na', 'q', 'n', 'ws', 'wn', 'm')
if not f[1] then return {-1} end
local score, best, ba, total, last = num(f[2]), num(f[3]), num(f[4]), num(f[5]), num(f[6])
local v, na, q = num(f[7]), num(f[8]), num(f[9]) + 1
local ws, wn = num(f[11]), num(f[12])
local penalty = tonumber(ARGV[3])
-- the attempt counts in the current window, which starts at the first attempt after
-- the previous one ended
local ms = math.floor(now / 1000)
if ms - ws >= tonumber(ARGV[2]) or ms < ws then ws, wn = ms, 0 end
wn = wn + 1
local counted = true
if wn > tonumber(ARGV[1]) then
  if v == 0 or now - v >= penalty then na = now + penalty end -- just became throttled
  v = now
  counted = false
elseif v ~= 0 and now - v < penalty then
  -- throttled: one click per penalty counts
  if now < na then counted = false else na = now + penalty end
end
if not counted then
  redis.call('HSET', KEYS[1], 'ws', str(ws), 'wn', str(wn), 'v', str(v), 'na', str(na), 'q', str(q))
  redis.call('HINCRBY', KEYS[2], 'refused', 1)
  return {0, f[1], score, best, ba, total, last, v, na, q, num(f[10]), now}
end
-- the idle reset is applied lazily by the first click after it was due
if last ~= 0 and now - last >= tonumber(ARGV[4]) then score = 1 else score = score + 1 end
total = total + 1
local sets = {'s', str(score), 't', str(total), 'lc', str(now),
  'ws', str(ws), 'wn', str(wn), 'v', str(v), 'na', str(na), 'q', str(q)}
if score > best then
  best, ba = score, now
  if f[13] then redis.call('ZREM', KEYS[3], f[13]) end
  local m = member(ba, ARGV[6], f[1])
  redis.call('ZADD', KEYS[3], str(best), m)
  if top(KEYS[3], m, tonumber(ARGV[5])) then redis.call('HINCRBY', KEYS[2], 'bver', 1) end
  sets[17], sets[18], sets[19], sets[20], sets[21], sets[22] = 'b', str(best), 'ba', str(ba), 'm', m
end
redis.call('HSET', KEYS[1], unpack(sets))
redis.call('HINCRBY', KEYS[2], 'clicks', 1)
return {1, f[1], score, best, ba, total, now, v, na, q, num(f[10]), now}
`

// joinSrc creates a player, or with mode "get" returns the existing one and creates
// it only when it is missing (a restored identity).
//
// KEYS: player, partition, ids. ARGV: id, handle, mode ("new" or "get"), now or "".
// Status: 1 created, 0 existed (mode "get"), -1 the id is taken (mode "new").
const joinSrc = prelude + `
local now = clock(ARGV[4])
local f = read(KEYS[1])
if f[1] then
  if ARGV[3] == 'new' then return {-1} end
  return state(0, f, now)
end
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'q', '1')
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'players', 1)
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return state(1, read(KEYS[1]), now)
`

// renameSrc changes a handle, on the board too.
//
// KEYS: player, partition, board. ARGV: handle, flipped id, board size.
const renameSrc = prelude + `
local m = redis.call('HGET', KEYS[1], 'm')
if not redis.call('HEXISTS', KEYS[1], 'h') then return {-1} end
redis.call('HSET', KEYS[1], 'h', ARGV[1])
if m then
  local score = redis.call('ZSCORE', KEYS[3], m)
  local m2 = string.sub(m, 1, 16) .. ARGV[2] .. ARGV[1]
  redis.call('ZREM', KEYS[3], m)
  redis.call('ZADD', KEYS[3], score, m2)
  redis.call('HSET', KEYS[1], 'm', m2)
  if top(KEYS[3], m2, tonumber(ARGV[3])) then redis.call('HINCRBY', KEYS[2], 'bver', 1) end
end
redis.call('HINCRBY', KEYS[1], 'q', 1)
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return state(1, read(KEYS[1]), 0)
`

// resetSrc sets score and best to 0 and keeps the total.
//
// KEYS: player, partition, board.
const resetSrc = prelude + `
local m = redis.call('HGET', KEYS[1], 'm')
if not redis.call('HEXISTS', KEYS[1], 'h') then return {-1} end
if m then
  redis.call('ZREM', KEYS[3], m)
  redis.call('HDEL', KEYS[1], 'm')
  redis.call('HINCRBY', KEYS[2], 'bver', 1)
end
redis.call('HSET', KEYS[1], 's', '0', 'b', '0', 'ba', '0')
redis.call('HINCRBY', KEYS[1], 'q', 1)
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return state(1, read(KEYS[1]), 0)
`

// removeSrc takes a player out of the game; its clicks leave the total. It returns
// the player as it was.
//
// KEYS: player, partition, board, ids. ARGV: id.
const removeSrc = prelude + `
local f = read(KEYS[1])
if not f[1] then return {-1} end
local m = redis.call('HGET', KEYS[1], 'm')
if m then redis.call('ZREM', KEYS[3], m) end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'players', -1)
redis.call('HINCRBY', KEYS[2], 'clicks', str(-num(f[5])))
-- the clicks leave the total; edits grows by more, so the version still moves forward
redis.call('HINCRBY', KEYS[2], 'edits', str(num(f[5]) + 1))
redis.call('HINCRBY', KEYS[2], 'bver', 1)
return state(1, f, 0)
`

// attachSrc records the first socket of a player on a node, and counts the player
// as returning when nobody saw them (no click, no socket closing) for a while. The
// count of nodes with sockets (n) is not asked: a node that died leaves its share in
// it for good, which only costs the other nodes a needless refresh now and then.
//
// KEYS: player, partition. ARGV: node, return-after µs, now or "".
const attachSrc = prelude + `
local now = clock(ARGV[3])
if not redis.call('HEXISTS', KEYS[1], 'h') then return {-1} end
local g = redis.call('HMGET', KEYS[1], 'lc', 'lf')
local status = 1
local seen = math.max(num(g[1]), num(g[2]))
if seen ~= 0 and now - seen >= tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[2], 'ret', 1)
  status = 2
end
if redis.call('HINCRBY', KEYS[1], 'o:' .. ARGV[1], 1) == 1 then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
end
return state(status, read(KEYS[1]), now)
`

// detachSrc is the counterpart of attachSrc, for the last socket on a node.
//
// KEYS: player. ARGV: node, now or "".
const detachSrc = prelude + `
local now = clock(ARGV[2])
if not redis.call('HEXISTS', KEYS[1], 'h') then return 0 end
if redis.call('HINCRBY', KEYS[1], 'o:' .. ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], 'o:' .. ARGV[1])
  if redis.call('HINCRBY', KEYS[1], 'n', -1) < 0 then redis.call('HSET', KEYS[1], 'n', '0') end
end
redis.call('HSET', KEYS[1], 'lf', str(now))
return 1
`

// getSrc reads a player's cached fields.
//
// KEYS: player.
const getSrc = prelude + `
local f = read(KEYS[1])
if not f[1] then return {-1} end
return state(1, f, clock(''))
`

// importSrc adds one player of a snapshot, unless the id exists.
//
// KEYS: player, partition, board, ids. ARGV: id, handle, score, best, best_at µs,
// total, last_click µs, flipped id, board size. Returns 1, or 0 for a taken id.
const importSrc = prelude + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local best, ba = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'h', ARGV[2], 's', ARGV[3], 'b', ARGV[4], 'ba', ARGV[5],
  't', ARGV[6], 'lc', ARGV[7], 'q', '1')
if best > 0 then
  local m = member(ba, ARGV[8], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[4], m)
  redis.call('HSET', KEYS[1], 'm', m)
  redis.call('HINCRBY', KEYS[2], 'bver', 1)
end
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'players', 1)
redis.call('HINCRBY', KEYS[2], 'clicks', ARGV[6])
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return 1
`

// heartbeatSrc reports a node's online count and returns the game's: the sum over
// the nodes that reported within their time to live, and the peak. Nodes that stopped
// reporting are forgotten, so a dead node's players leave the count.
//
// KEYS: nodes, online, peak. ARGV: node, online, time to live ms.
const heartbeatSrc = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[3])), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
for _, d in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))) do
  redis.call('ZREM', KEYS[1], d)
  redis.call('HDEL', KEYS[2], d)
end
local sum = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do sum = sum + tonumber(v) end
local peak = tonumber(redis.call('GET', KEYS[3])) or 0
if sum > peak then
  peak = sum
  redis.call('SET', KEYS[3], string.format('%d', peak))
end
return {sum, peak, redis.call('ZRANGE', KEYS[1], 0, -1)}
`

// leaveSrc takes a stopping node out of the online count at once.
//
// KEYS: nodes, online. ARGV: node.
const leaveSrc = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`

// leaseSrc takes or renews the snapshot lease for a node.
//
// KEYS: lease. ARGV: node, time to live ms. Returns 1 when the node holds it.
const leaseSrc = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`

// releaseSrc gives the lease up if the node holds it.
//
// KEYS: lease. ARGV: node.
const releaseSrc = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`
