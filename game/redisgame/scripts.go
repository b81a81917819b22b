package redisgame

import (
	"strconv"

	"github.com/clickthebutton/clickthebutton/game"
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
// A player's hash fields. What a click changes is packed into two fields, so that a
// click reads and writes a small hash in one call each:
//
//	h   handle
//	d   "s b ba t lc ws wn v na q": score, best, when the best was set, total, last
//	    counted click, throttle window start (ms) and attempts in it, last violation,
//	    next allowed click, change counter
//	bt  "rs rn la c mean var": the bot detection's window start (ms) and attempts in
//	    it, last attempt, and the interval statistics of game/bots.go
//	fl  "at rule rate cv samples": the evidence, once the detection flagged the player
//	hd  "1" while a flagged player is hidden (--bot-action hide)
//	lk  "1" while a moderator's handle holds
//	m   the player's board member, while it has one
//	jt  when the player joined
//	n, o:<node>, lf  the nodes holding its sockets, and when its last one closed
//
// A partition's bans (a hash, id to "at reason") outlive the players' hashes.

// scripts are the rules as Redis runs them, loaded by SHA and sent again after a
// restart of Redis empties its script cache.
type scripts struct {
	click     *rueidis.Lua
	join      *rueidis.Lua
	rename    *rueidis.Lua
	unlock    *rueidis.Lua
	reset     *rueidis.Lua
	remove    *rueidis.Lua
	ban       *rueidis.Lua
	unban     *rueidis.Lua
	clear     *rueidis.Lua
	forget    *rueidis.Lua
	attach    *rueidis.Lua
	detach    *rueidis.Lua
	get       *rueidis.Lua
	importer  *rueidis.Lua
	heartbeat *rueidis.Lua
	leave     *rueidis.Lua
	lease     *rueidis.Lua
	release   *rueidis.Lua

	rankRead, rankSync, rankGet *rueidis.Lua // rank.go
}

func newScripts() *scripts {
	return &scripts{
		click:     rueidis.NewLuaScript(clickSrc),
		join:      rueidis.NewLuaScript(joinSrc),
		rename:    rueidis.NewLuaScript(renameSrc),
		unlock:    rueidis.NewLuaScript(unlockSrc),
		reset:     rueidis.NewLuaScript(resetSrc),
		remove:    rueidis.NewLuaScript(removeSrc),
		ban:       rueidis.NewLuaScript(banSrc),
		unban:     rueidis.NewLuaScript(unbanSrc),
		clear:     rueidis.NewLuaScript(clearSrc),
		forget:    rueidis.NewLuaScript(forgetSrc),
		attach:    rueidis.NewLuaScript(attachSrc),
		detach:    rueidis.NewLuaScript(detachSrc),
		get:       rueidis.NewLuaScriptReadOnly(getSrc),
		importer:  rueidis.NewLuaScript(importSrc),
		heartbeat: rueidis.NewLuaScript(heartbeatSrc),
		leave:     rueidis.NewLuaScript(leaveSrc),
		lease:     rueidis.NewLuaScript(leaseSrc),
		release:   rueidis.NewLuaScript(releaseSrc),

		rankRead: rueidis.NewLuaScriptReadOnly(rankReadSrc),
		rankSync: rueidis.NewLuaScript(rankSyncSrc),
		rankGet:  rueidis.NewLuaScriptReadOnly(rankGetSrc),
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
-- A player's numbers: d holds s b ba t lc, w holds ws wn v na q, each "B" and five
-- little-endian doubles (every integer the game keeps is below 2^53, so exact):
-- struct packs them in a fraction of the time string.format and string.match take,
-- which was most of a click's cost, and two fields of 41 bytes keep the hash in
-- Redis's compact encoding (values up to hash-max-listpack-value, 64 bytes). d as ten
-- numbers and spaces, as earlier versions wrote it, is still read.
local function unpackd(d, w)
  if not d then return 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 end
  if string.byte(d, 1) == 66 then
    local s, b, ba, t, lc = struct.unpack('<ddddd', d, 2)
    if not w then return s, b, ba, t, lc, 0, 0, 0, 0, 0 end
    local ws, wn, v, na, q = struct.unpack('<ddddd', w, 2)
    return s, b, ba, t, lc, ws, wn, v, na, q
  end
  local a, b, c, e, f, g, h, i, j, k = string.match(d, '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)$')
  return tonumber(a), tonumber(b), tonumber(c), tonumber(e), tonumber(f), tonumber(g),
    tonumber(h), tonumber(i), tonumber(j), tonumber(k)
end
-- packd returns the d and w fields.
local function packd(s, b, ba, t, lc, ws, wn, v, na, q)
  return 'B' .. struct.pack('<ddddd', s, b, ba, t, lc), 'B' .. struct.pack('<ddddd', ws, wn, v, na, q)
end
local function member(ba, flipped, handle)
  return string.format('%016x', 9007199254740991 - ba) .. flipped .. handle
end
-- top reports whether member m is in the partition's top size
local function top(board, m, size)
  local r = redis.call('ZREVRANK', board, m)
  return r and r < size
end
-- the reply a node keeps: status, then h s b ba t lc v na q n, the clock, the ban's
-- reason (or ''), whether the handle is locked, when the player was flagged (or 0)
local function state(status, key, now, ban)
  local f = redis.call('HMGET', key, 'h', 'd', 'n', 'lk', 'fl', 'w')
  local s, b, ba, t, lc, ws, wn, v, na, q = unpackd(f[2], f[6])
  local fl = 0
  if f[5] then fl = tonumber(string.match(f[5], '^(%d+)')) end
  return {status, f[1] or '', s, b, ba, t, lc, v, na, q, num(f[3]), now, ban or '', f[4] and 1 or 0, fl}
end
`

// Statuses of the scripts' replies.
const (
	statusLocked  = -3 // a player's rename of a handle a moderator locked
	statusBanned  = -2 // the identity is banned; the reply's second value is "at reason"
	statusGone    = -1 // no such player (removed, or never created)
	statusRefused = 0  // a click refused by the throttle
	statusOK      = 1
)

// What a click did to the player's board entry: the last value of its reply.
const (
	boardKept  = 0
	boardHid   = 1 // off the board (bot action hide)
	boardMoved = 2 // a new best: a new member and score
)

// ClickScript is the Lua source that applies one click, for benchmarks that run it
// through other clients or redis-benchmark (bench/redis). Its KEYS and ARGV are those
// ClickKeys and ClickArgs return; the player's hash must hold an "h" field (the handle).
const ClickScript = clickSrc

// ClickKeys returns the keys ClickScript takes for the player with id, and the id as
// the script's flipped-id argument.
func ClickKeys(id uuid.UUID) (keys []string, flipped string) {
	k := newPartKeys(partitionOf(id))
	return []string{k.player(id), k.part, k.board, k.bans, k.suspects}, flippedID(id)
}

// ClickArgs returns ClickScript's arguments for the player with id under rules; now
// is the clock in µs, or "" for the Redis server's TIME.
func ClickArgs(rules game.Config, id uuid.UUID, now string) []string {
	a := ruleArgs(rules)
	return []string{a.limit, a.window, a.penalty, a.idle, a.board, flippedID(id), id.String(),
		a.botLimit, a.botWindow, a.regularity, a.regularRate, a.action, now}
}

// args are the rules as script arguments, formatted once.
type args struct {
	limit, window, penalty, idle, board, returnAfter     string
	botLimit, botWindow, regularity, regularRate, action string
}

func ruleArgs(c game.Config) args {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return args{
		limit:       strconv.Itoa(c.ThrottleLimit),
		window:      strconv.FormatInt(c.ThrottleWindow.Milliseconds(), 10),
		penalty:     strconv.FormatInt(c.ThrottlePenalty.Microseconds(), 10),
		idle:        strconv.FormatInt(c.IdleReset.Microseconds(), 10),
		board:       strconv.Itoa(c.BoardSize),
		returnAfter: strconv.FormatInt(game.ReturnAfter.Microseconds(), 10),
		botLimit:    strconv.FormatInt(int64(c.Bots.Rate*c.Bots.Window.Seconds()), 10),
		botWindow:   strconv.FormatInt(c.Bots.Window.Milliseconds(), 10),
		regularity:  f(c.Bots.Regularity),
		regularRate: f(c.Bots.RegularRate),
		action:      c.Bots.Action.String(),
	}
}

// clickSrc applies one click attempt: the same rules as game.Engine, the bot
// detection of game/bots.go included.
//
// KEYS: player, partition, board, bans, suspects. ARGV: limit, window ms, penalty µs,
// idle reset µs, board size, flipped id, id, bot limit (attempts per bot window), bot
// window ms, regularity, regular rate, bot action, now µs or "". The reply is a state
// reply whose last value, instead of the flag time, says what the attempt did to the
// player's board entry, which the node copies into the game-wide ranks: 0 nothing,
// boardHid (bot action hide: off the board), boardMoved (a new best: a new member).
const clickSrc = prelude + `
local now = clock(ARGV[13])
local f = redis.call('HMGET', KEYS[1], 'h', 'd', 'm', 'n', 'bt', 'fl', 'hd', 'w')
if not f[1] then return {-1} end
local ban = redis.call('HGET', KEYS[4], ARGV[7])
if ban then return {-2, ban} end
local s, b, ba, t, lc, ws, wn, v, na, q = unpackd(f[2], f[8])
q = q + 1
local penalty = tonumber(ARGV[3])
local ms = math.floor(now / 1000)
local sets = {}
local function set(k, val) sets[#sets + 1] = k; sets[#sets + 1] = val end

-- the bot detection: a window of attempts and the statistics of the intervals
local rs, rn, la, c, mean, var = 0, 0, 0, 0, 0, 0
if f[5] then
  if string.byte(f[5], 1) == 66 then
    rs, rn, la, c, mean, var = struct.unpack('<dddddd', f[5], 2)
  else
    local x1, x2, x3, x4, x5, x6 = string.match(f[5], '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+)$')
    rs, rn, la, c, mean, var = tonumber(x1), tonumber(x2), tonumber(x3), tonumber(x4), tonumber(x5), tonumber(x6)
  end
end
if ms >= rs and ms - rs >= tonumber(ARGV[9]) then rs, rn = ms, 0 end
rn = rn + 1
if la ~= 0 and now > la then
  local d = math.min(math.floor((now - la) / 10), 1048576)
  if c == 0 then
    c, mean, var = 1, d, 0
  else
    local diff = d - mean
    mean = math.max(mean + math.floor(diff / 16), 0)
    local nv = var + math.floor(diff * diff / 16)
    var = math.min(nv - math.floor(nv / 16), 4294967295)
    c = math.min(c + 1, 255)
  end
end
la = now
set('bt', 'B' .. struct.pack('<dddddd', rs, rn, la, c, mean, var))
local flagged = f[6]
local hidden = f[7]
local hid = 0
if not flagged then
  local rule, rate, cv = 0, 0, 0
  if c >= 2 and mean > 0 then
    rate, cv = 100000 / mean, math.sqrt(var) / mean
  end
  local reg = tonumber(ARGV[10])
  if reg > 0 and c >= 32 and mean > 0 and rate >= tonumber(ARGV[11]) and cv < reg then rule = 2 end
  if rn > tonumber(ARGV[8]) then
    rule, rate = 1, rn * 1000 / tonumber(ARGV[9])
  end
  if rule ~= 0 then
    flagged = string.format('%d %d %d %d %d', now, rule, math.floor(rate * 100), math.floor(cv * 10000), c)
    set('fl', flagged)
    redis.call('ZADD', KEYS[5], str(now), ARGV[7])
    if ARGV[12] == 'hide' then
      hidden = '1'
      hid = 1
      set('hd', '1')
      if f[3] then
        redis.call('ZREM', KEYS[3], f[3])
        redis.call('HDEL', KEYS[1], 'm')
        f[3] = false
        redis.call('HINCRBY', KEYS[2], 'bver', 1)
      end
    end
  end
end
if flagged and ARGV[12] == 'throttle' then
  -- a flagged bot stays throttled, as if it broke the limit at every attempt
  if v == 0 or now - v >= penalty then na = now + penalty end
  v = now
end

-- the throttle: the attempt counts in the current window, which starts at the first
-- attempt after the previous one ended
if ms >= ws and ms - ws >= tonumber(ARGV[2]) then ws, wn = ms, 0 end
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
  local d, w = packd(s, b, ba, t, lc, ws, wn, v, na, q)
  set('d', d)
  set('w', w)
  redis.call('HSET', KEYS[1], unpack(sets))
  redis.call('HINCRBY', KEYS[2], 'refused', 1)
  return {0, f[1], s, b, ba, t, lc, v, na, q, num(f[4]), now, '', 0, hid}
end
-- the idle reset is applied lazily by the first click after it was due
if lc ~= 0 and now - lc >= tonumber(ARGV[4]) then s = 1 else s = s + 1 end
t = t + 1
lc = now
if s > b then
  b, ba = s, now
  if not hidden then
    if f[3] then redis.call('ZREM', KEYS[3], f[3]) end
    local m = member(ba, ARGV[6], f[1])
    redis.call('ZADD', KEYS[3], str(b), m)
    if top(KEYS[3], m, tonumber(ARGV[5])) then redis.call('HINCRBY', KEYS[2], 'bver', 1) end
    set('m', m)
    hid = 2
  end
end
local d, w = packd(s, b, ba, t, lc, ws, wn, v, na, q)
set('d', d)
set('w', w)
redis.call('HSET', KEYS[1], unpack(sets))
redis.call('HINCRBY', KEYS[2], 'clicks', 1)
return {1, f[1], s, b, ba, t, lc, v, na, q, num(f[4]), now, '', 0, hid}
`

// joinSrc creates a player, or with mode "get" returns the existing one and creates
// it only when it is missing (a restored identity); a banned identity is refused.
//
// KEYS: player, partition, ids, bans. ARGV: id, handle, mode ("new" or "get"), now or "".
// Status: 1 created, 0 existed (mode "get"), -1 the id is taken (mode "new"), -2 banned.
const joinSrc = prelude + `
local now = clock(ARGV[4])
local ban = redis.call('HGET', KEYS[4], ARGV[1])
if ban then return {-2, ban} end
if redis.call('HEXISTS', KEYS[1], 'h') == 1 then
  if ARGV[3] == 'new' then return {-1} end
  return state(0, KEYS[1], now)
end
local d, w = packd(0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'd', d, 'w', w, 'jt', str(now))
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'players', 1)
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return state(1, KEYS[1], now)
`

// bumpq moves a player's change counter forward, so that every node takes the next
// reply as the later one.
const bumpq = `
local function bumpq(key, fn)
  local g = redis.call('HMGET', key, 'd', 'w')
  local s, b, ba, t, lc, ws, wn, v, na, q = unpackd(g[1], g[2])
  if fn then s, b, ba = fn(s, b, ba) end
  local d, w = packd(s, b, ba, t, lc, ws, wn, v, na, q + 1)
  redis.call('HSET', key, 'd', d, 'w', w)
  return s, b, ba
end
`

// renameSrc changes a handle, on the board too. With mode "lock" (a moderator's) the
// handle is locked; with mode "player" a locked handle is refused.
//
// KEYS: player, partition, board. ARGV: handle, flipped id, board size, mode.
const renameSrc = prelude + bumpq + `
local f = redis.call('HMGET', KEYS[1], 'h', 'm', 'lk')
if not f[1] then return {-1} end
if ARGV[4] == 'player' and f[3] then return {-3} end
redis.call('HSET', KEYS[1], 'h', ARGV[1])
if ARGV[4] == 'lock' then redis.call('HSET', KEYS[1], 'lk', '1') end
if f[2] then
  local score = redis.call('ZSCORE', KEYS[3], f[2])
  local m = string.sub(f[2], 1, 16) .. ARGV[2] .. ARGV[1]
  redis.call('ZREM', KEYS[3], f[2])
  redis.call('ZADD', KEYS[3], score, m)
  redis.call('HSET', KEYS[1], 'm', m)
  if top(KEYS[3], m, tonumber(ARGV[3])) then redis.call('HINCRBY', KEYS[2], 'bver', 1) end
end
bumpq(KEYS[1])
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return state(1, KEYS[1], 0)
`

// unlockSrc lets a player rename again. KEYS: player, partition.
const unlockSrc = prelude + bumpq + `
if redis.call('HEXISTS', KEYS[1], 'h') == 0 then return {-1} end
redis.call('HDEL', KEYS[1], 'lk')
bumpq(KEYS[1])
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return state(1, KEYS[1], 0)
`

// resetSrc sets score and best to 0 and keeps the total.
//
// KEYS: player, partition, board.
const resetSrc = prelude + bumpq + `
local m = redis.call('HGET', KEYS[1], 'm')
if redis.call('HEXISTS', KEYS[1], 'h') == 0 then return {-1} end
if m then
  redis.call('ZREM', KEYS[3], m)
  redis.call('HDEL', KEYS[1], 'm')
  redis.call('HINCRBY', KEYS[2], 'bver', 1)
end
bumpq(KEYS[1], function() return 0, 0, 0 end)
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return state(1, KEYS[1], 0)
`

// removeSrc takes a player out of the game; its clicks leave the total; a ban on its
// identity stays. It returns the player as it was.
//
// KEYS: player, partition, board, ids, suspects. ARGV: id.
const removeSrc = prelude + `
if redis.call('HEXISTS', KEYS[1], 'h') == 0 then return {-1} end
local was = state(1, KEYS[1], 0)
local m = redis.call('HGET', KEYS[1], 'm')
if m then redis.call('ZREM', KEYS[3], m) end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'players', -1)
redis.call('HINCRBY', KEYS[2], 'clicks', str(-was[6]))
-- the clicks leave the total; edits grows by more, so the version still moves forward
redis.call('HINCRBY', KEYS[2], 'edits', str(was[6] + 1))
redis.call('HINCRBY', KEYS[2], 'bver', 1)
return was
`

// banSrc bans an identity and takes the player off the board.
//
// KEYS: player, partition, board, bans. ARGV: id, "at reason".
const banSrc = prelude + bumpq + `
if redis.call('HEXISTS', KEYS[1], 'h') == 0 then return -1 end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
local m = redis.call('HGET', KEYS[1], 'm')
if m then
  redis.call('ZREM', KEYS[3], m)
  redis.call('HDEL', KEYS[1], 'm')
  redis.call('HINCRBY', KEYS[2], 'bver', 1)
end
bumpq(KEYS[1])
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return 1
`

// unbanSrc lifts a ban; the player, if still in the game and not hidden as a bot,
// goes back on the board.
//
// KEYS: player, partition, board, bans. ARGV: id, flipped id.
const unbanSrc = prelude + bumpq + `
if redis.call('HDEL', KEYS[4], ARGV[1]) == 0 then return -1 end
local f = redis.call('HMGET', KEYS[1], 'h', 'd', 'hd')
if f[1] then
  local s, b, ba = unpackd(f[2])
  if b > 0 and not f[3] then
    local m = member(ba, ARGV[2], f[1])
    redis.call('ZADD', KEYS[3], str(b), m)
    redis.call('HSET', KEYS[1], 'm', m)
  end
  bumpq(KEYS[1])
end
redis.call('HINCRBY', KEYS[2], 'bver', 1)
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return 1
`

// clearSrc lifts a bot flag and what its action did, and starts the detection afresh.
//
// KEYS: player, partition, board, bans, suspects. ARGV: id, flipped id, bot action.
const clearSrc = prelude + `
local f = redis.call('HMGET', KEYS[1], 'h', 'd', 'hd', 'fl', 'w')
if not f[1] then return -1 end
if not f[4] then return 1 end
redis.call('HDEL', KEYS[1], 'fl', 'bt', 'hd')
redis.call('ZREM', KEYS[5], ARGV[1])
local s, b, ba, t, lc, ws, wn, v, na, q = unpackd(f[2], f[5])
if ARGV[3] == 'throttle' then v = 0 end
local d, w = packd(s, b, ba, t, lc, ws, wn, v, na, q + 1)
redis.call('HSET', KEYS[1], 'd', d, 'w', w)
if f[3] and b > 0 and redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then
  local m = member(ba, ARGV[2], f[1])
  redis.call('ZADD', KEYS[3], str(b), m)
  redis.call('HSET', KEYS[1], 'm', m)
  redis.call('HINCRBY', KEYS[2], 'bver', 1)
end
return 1
`

// forgetSrc removes a player who never counted a click, holds no socket, joined before
// the cut and has no locked handle. Returns 1 when it removed the player.
//
// KEYS: player, partition, ids. ARGV: id, cut µs.
const forgetSrc = prelude + `
local f = redis.call('HMGET', KEYS[1], 'h', 'd', 'n', 'jt', 'lk')
if not f[1] or f[5] or num(f[3]) > 0 or num(f[4]) >= tonumber(ARGV[2]) then return 0 end
local s, b, ba, t = unpackd(f[2])
if t > 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'players', -1)
redis.call('HINCRBY', KEYS[2], 'edits', 1)
return 1
`

// attachSrc records the first socket of a player on a node, and counts the player
// as returning when nobody saw them (no click, no socket closing) for a while. The
// count of nodes with sockets (n) is not asked: a node that died leaves its share in
// it for good, which only costs the other nodes a needless refresh now and then.
//
// KEYS: player, partition. ARGV: node, return-after µs, now or "".
const attachSrc = prelude + `
local now = clock(ARGV[3])
local g = redis.call('HMGET', KEYS[1], 'h', 'd', 'lf')
if not g[1] then return {-1} end
local _, _, _, _, lc = unpackd(g[2])
local status = 1
local seen = math.max(lc, num(g[3]))
if seen ~= 0 and now - seen >= tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[2], 'ret', 1)
  status = 2
end
if redis.call('HINCRBY', KEYS[1], 'o:' .. ARGV[1], 1) == 1 then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
end
return state(status, KEYS[1], now)
`

// detachSrc is the counterpart of attachSrc, for the last socket on a node.
//
// KEYS: player. ARGV: node, now or "".
const detachSrc = prelude + `
local now = clock(ARGV[2])
if redis.call('HEXISTS', KEYS[1], 'h') == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], 'o:' .. ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], 'o:' .. ARGV[1])
  if redis.call('HINCRBY', KEYS[1], 'n', -1) < 0 then redis.call('HSET', KEYS[1], 'n', '0') end
end
redis.call('HSET', KEYS[1], 'lf', str(now))
return 1
`

// getSrc reads a player's cached fields, and the ban on its identity.
//
// KEYS: player, bans. ARGV: id.
const getSrc = prelude + `
if redis.call('HEXISTS', KEYS[1], 'h') == 0 then return {-1} end
return state(1, KEYS[1], clock(''), redis.call('HGET', KEYS[2], ARGV[1]))
`

// importSrc adds one player of a snapshot, unless the id exists.
//
// KEYS: player, partition, board, ids. ARGV: id, handle, score, best, best_at µs,
// total, last_click µs, flipped id, board size, now µs. Returns 1, or 0 for a taken id.
const importSrc = prelude + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local best, ba = tonumber(ARGV[4]), tonumber(ARGV[5])
local d, w = packd(tonumber(ARGV[3]), best, ba, tonumber(ARGV[6]), tonumber(ARGV[7]), 0, 0, 0, 0, 1)
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'jt', ARGV[10], 'd', d, 'w', w)
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
