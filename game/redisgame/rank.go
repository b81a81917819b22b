package redisgame

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// Ranks in one game-wide sorted set. keyRanks holds every ranked player (on a
// partition's board: a best above 0, not hidden, not banned) with the same member and
// score as its partition's board, so equal bests order exactly as the board orders
// them; keyRankIDs maps each id in it to "q member" (q: the player's change counter
// when the entry was written). Both are in the slot of {g}, so every script on them
// runs on one shard of a cluster.
//
// The partition scripts cannot write them (another slot), so a node copies the
// entries into them (sync): one script on {g} writes the entries whose counter is
// newer than the stored one (an older reading, sent late by another node, loses) and
// removes the players who are gone. What it writes comes from:
//   - a click's reply, for a click that moved or hid the player: it holds the new
//     best, best time, handle and counter, so the node builds the entry itself;
//   - a read of the partition (one read-only script per partition gives each player's
//     member, best and counter) after a moderation call the node served or an import,
//     and, in Ranks, for each connected player once a RankRepair: that repairs an
//     entry another node left stale when it died between a click and its sync.
//
// A node syncs its clicks' entries in Ranks, once a second while the server
// refreshes ranks, and otherwise at a Tick once a RankSync.
//
// A rank is then 1 + ZCOUNT above the player's best, Of is ZCARD and the neighbours
// are ZRANGE around ZREVRANK: a few O(log n) calls per player, whatever the number of
// partitions. A click on one node shows in the other nodes' answers after that node's
// next sync.

const (
	keyRanks    = "ctb:{g}:ranks"
	keyRankIDs  = "ctb:{g}:rankm"
	keyRankLock = "ctb:{g}:ranklock"

	// rankChunk is the most players one script on {g} takes: a few hundred keep each
	// script well under a millisecond, so clicks on the same shard wait little.
	rankChunk = 512
)

const (
	// rankReadSrc: KEYS: board, then player keys. Returns per player its change
	// counter (-1 when it is gone), its board member ('' when not on the board) and
	// its best there.
	rankReadSrc = prelude + `
local out = {}
for i = 2, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'h', 'm', 'd', 'w')
  if not f[1] then
    out[#out+1] = -1
    out[#out+1] = ''
    out[#out+1] = '0'
  else
    local _, _, _, _, _, _, _, _, _, q = unpackd(f[3], f[4])
    local m = f[2]
    local sc = m and redis.call('ZSCORE', KEYS[1], m)
    out[#out+1] = str(q)
    if sc then
      out[#out+1] = m
      out[#out+1] = sc
    else
      out[#out+1] = ''
      out[#out+1] = '0'
    end
  end
end
return out
`
	// rankSyncSrc: KEYS: ranks, rank ids. ARGV: fives of id, change counter (-1:
	// gone), best, member ('' when unranked) and 'r' for an entry read from the
	// partition or 'c' for one built from a click's reply. Returns the ids of the
	// click entries it left out: those of players the set does not hold. Their entry is
	// created from a read of the partition instead, which finds a player removed since
	// the click gone; the click's entry would leave a removed player's handle ranked.
	rankSyncSrc = `
local skipped = {}
for i = 1, #ARGV, 5 do
  local id, q, sc, m = ARGV[i], tonumber(ARGV[i+1]), ARGV[i+2], ARGV[i+3]
  local cur = redis.call('HGET', KEYS[2], id)
  local cq, cm = -1, ''
  if cur then
    local sp = string.find(cur, ' ', 1, true)
    cq, cm = tonumber(string.sub(cur, 1, sp - 1)), string.sub(cur, sp + 1)
  end
  if q < 0 then
    if cur then
      if cm ~= '' then redis.call('ZREM', KEYS[1], cm) end
      redis.call('HDEL', KEYS[2], id)
    end
  elseif not cur and m ~= '' and ARGV[i+4] == 'c' then
    skipped[#skipped+1] = id
  elseif (not cur and m ~= '') or (cur and q > cq) then
    -- the member holds the best's time, not the best: bests reached in one
    -- microsecond (a test's clock) share it, so the score is written anyway
    if cm ~= m and cm ~= '' then redis.call('ZREM', KEYS[1], cm) end
    if m ~= '' then redis.call('ZADD', KEYS[1], sc, m) end
    redis.call('HSET', KEYS[2], id, ARGV[i+1] .. ' ' .. m)
  end
end
return skipped
`
	// rankGetSrc: KEYS: ranks, rank ids. ARGV: the number of neighbours on each side,
	// then pairs of player id and the member the node expects it to have ('' when it
	// does not know). Returns ZCARD, then per player its rank (0: unranked) and, when
	// ranked, its best, the count of neighbours above and those (member, best, rank)
	// farthest first, the count below and those nearest first.
	//
	// The expected member saves a lookup of the id: it is the player's entry if the set
	// holds it, since a member holds the player's id and the set one member a player.
	//
	// A rank is 1 + the count of bests above. Along the window that ZRANGE returns,
	// a row whose best differs from the row before it has exactly from + its place
	// rows above it, so only the window's first best is counted (ZCOUNT), once per
	// distinct best in a script.
	rankGetSrc = `
local z = KEYS[1]
local nb = tonumber(ARGV[1])
local out = {redis.call('ZCARD', z)}
local counted = {}
local function rankAt(sc)
  local r = counted[sc]
  if not r then
    r = redis.call('ZCOUNT', z, '(' .. sc, '+inf') + 1
    counted[sc] = r
  end
  return r
end
local function emit(rows, rk, first, last)
  out[#out+1] = last - first + 1
  for j = first, last do
    out[#out+1] = rows[2*j-1]
    out[#out+1] = rows[2*j]
    out[#out+1] = rk[j]
  end
end
for i = 2, #ARGV, 2 do
  local m = ARGV[i+1]
  local idx = m ~= '' and redis.call('ZREVRANK', z, m)
  if not idx then
    local cur = redis.call('HGET', KEYS[2], ARGV[i])
    m = cur and string.sub(cur, string.find(cur, ' ', 1, true) + 1)
    idx = m and m ~= '' and redis.call('ZREVRANK', z, m)
  end
  if not idx then
    out[#out+1] = 0
  else
    local from = math.max(idx - nb, 0)
    local rows = redis.call('ZRANGE', z, from, idx + nb, 'REV', 'WITHSCORES')
    local n = #rows / 2
    local rk = {from == 0 and 1 or rankAt(rows[2])}
    for j = 2, n do
      if rows[2*j] == rows[2*j-2] then rk[j] = rk[j-1] else rk[j] = from + j end
    end
    local me = idx - from + 1
    out[#out+1] = rk[me]
    out[#out+1] = rows[2*me]
    emit(rows, rk, 1, me - 1)
    emit(rows, rk, me + 1, n)
  end
end
return out
`
)

// rankDirty holds what changed on this node since the last sync: the entries its
// clicks wrote (a click's reply holds the whole entry), and the players whose entry
// must be read from their partition first (a sync after a moderation call that
// failed).
type rankDirty struct {
	mu     sync.Mutex
	known  map[uuid.UUID]rankEntry
	unread map[uuid.UUID]struct{}
}

// add keeps e unless a later reading of the player is held.
func (d *rankDirty) add(e rankEntry) {
	d.mu.Lock()
	if d.known == nil {
		d.known = make(map[uuid.UUID]rankEntry)
	}
	if old, ok := d.known[e.id]; !ok || old.q < e.q {
		d.known[e.id] = e
	}
	d.mu.Unlock()
}

// addUnread queues ids to be read from their partitions at the next sync.
func (d *rankDirty) addUnread(ids ...uuid.UUID) {
	d.mu.Lock()
	if d.unread == nil {
		d.unread = make(map[uuid.UUID]struct{})
	}
	for _, id := range ids {
		d.unread[id] = struct{}{}
	}
	d.mu.Unlock()
}

// requeue puts back what take returned, for a sync that failed.
func (d *rankDirty) requeue(known []rankEntry, unread []uuid.UUID) {
	for _, e := range known {
		d.add(e)
	}
	d.addUnread(unread...)
}

// take removes and returns up to limit of what is queued, the entries first.
func (d *rankDirty) take(limit int) (known []rankEntry, unread []uuid.UUID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, e := range d.known {
		if len(known) == limit {
			return known, nil
		}
		known = append(known, e)
		delete(d.known, id)
	}
	for id := range d.unread {
		if len(known)+len(unread) == limit {
			break
		}
		unread = append(unread, id)
		delete(d.unread, id)
	}
	return known, unread
}

// rankRound is the most queued changes one sync takes. A round must finish within
// the op timeout even when Redis answers slowly, or its changes go back in the queue
// and the next round is larger still; bounded, a backlog drains over a few rounds.
const rankRound = 4096

// flushRanks syncs what changed on this node; on failure it stays queued for the
// next sync.
func (b *Backend) flushRanks(ctx context.Context) error {
	known, unread := b.rankDirty.take(rankRound)
	if err := b.syncEntries(ctx, known, unread); err != nil {
		b.rankDirty.requeue(known, unread)
		return err
	}
	return nil
}

// kickFlush asks flushLoop for a sync, unless one is already asked for.
func (b *Backend) kickFlush() {
	select {
	case b.flush <- struct{}{}:
	default:
	}
}

// flushLoop runs the syncs the Ticks ask for, until ctx ends.
func (b *Backend) flushLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.flush:
			if err := b.flushRanks(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("redis: rank sync failed; the changes are kept for the next one", "err", err)
			}
		}
	}
}

// syncRank is syncRanks for one player after a moderation call. A failure only leaves
// the entry stale until the player's next change or refresh, so it is logged, not
// returned: the call itself succeeded.
func (b *Backend) syncRank(ctx context.Context, id uuid.UUID) {
	if err := b.syncRanks(ctx, []uuid.UUID{id}); err != nil {
		b.rankDirty.addUnread(id)
		b.log.Warn("redis: rank entry not updated; retried at the next sync", "player", id, "err", err)
	}
}

// rankEntry is one player's board entry as its partition holds it.
type rankEntry struct {
	id     uuid.UUID
	q      int64 // change counter, -1 when the player is gone
	best   string
	member string // '' when not on the board
	// click is set for an entry built from a click's reply rather than read from
	// the partition.
	click bool
}

// syncRanks copies the partition state of ids into the game-wide set.
func (b *Backend) syncRanks(ctx context.Context, ids []uuid.UUID) error {
	return b.syncEntries(ctx, nil, ids)
}

// syncEntries writes known and the partition state of the players of unread into
// the game-wide set, each round under an op's timeout of its own (at 15k players a
// round is a large pipeline).
func (b *Backend) syncEntries(ctx context.Context, known []rankEntry, unread []uuid.UUID) error {
	entries := known
	if len(unread) > 0 {
		var read []rankEntry
		err := b.inOp(ctx, func(ctx context.Context) (err error) {
			read, err = b.readEntries(ctx, unread)
			return err
		})
		if err != nil {
			return fmt.Errorf("read rank entries: %w", err)
		}
		entries = append(slices.Clip(entries), read...)
	}
	if len(entries) == 0 {
		return nil
	}
	var skipped []uuid.UUID
	err := b.inOp(ctx, func(ctx context.Context) (err error) {
		skipped, err = b.writeEntries(ctx, entries)
		return err
	})
	if err != nil || len(skipped) == 0 {
		return err
	}
	// Players new to the set: their entries come from their partitions.
	return b.syncEntries(ctx, nil, skipped)
}

// inOp runs fn under one op's timeout.
func (b *Backend) inOp(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := b.op(ctx)
	defer cancel()
	return fn(ctx)
}

// readEntries reads the board entries of ids, one script per partition.
func (b *Backend) readEntries(ctx context.Context, ids []uuid.UUID) ([]rankEntry, error) {
	byPart := make(map[int][]uuid.UUID)
	for _, id := range ids {
		n := partitionOf(id)
		byPart[n] = append(byPart[n], id)
	}
	parts := make([]int, 0, len(byPart))
	execs := make([]rueidis.LuaExec, 0, len(byPart))
	for n, pids := range byPart {
		keys := make([]string, 0, len(pids)+1)
		keys = append(keys, b.parts[n].board)
		for _, id := range pids {
			keys = append(keys, b.parts[n].player(id))
		}
		parts = append(parts, n)
		execs = append(execs, rueidis.LuaExec{Keys: keys})
	}
	out := make([]rankEntry, 0, len(ids))
	for j, res := range b.s.rankRead.ExecMulti(ctx, b.bulk, execs...) {
		vals, err := res.ToArray()
		if err != nil {
			return nil, err
		}
		pids := byPart[parts[j]]
		if len(vals) != 3*len(pids) {
			return nil, fmt.Errorf("%s: rank read reply of %d values for %d players", b.parts[parts[j]].board, len(vals), len(pids))
		}
		r := reader{vals: vals}
		for _, id := range pids {
			e := rankEntry{id: id, q: r.int(), member: r.str(), best: r.str()}
			out = append(out, e)
		}
		if r.err != nil {
			return nil, fmt.Errorf("%s: rank read reply: %w", b.parts[parts[j]].board, r.err)
		}
	}
	return out, nil
}

// writeEntries applies entries to the game-wide set, rankChunk a script, and returns
// the players of click entries it left out (rankSyncSrc).
func (b *Backend) writeEntries(ctx context.Context, entries []rankEntry) ([]uuid.UUID, error) {
	var execs []rueidis.LuaExec
	for from := 0; from < len(entries); from += rankChunk {
		chunk := entries[from:min(from+rankChunk, len(entries))]
		args := make([]string, 0, 5*len(chunk))
		for _, e := range chunk {
			src := "r"
			if e.click {
				src = "c"
			}
			args = append(args, e.id.String(), strconv.FormatInt(e.q, 10), e.best, e.member, src)
		}
		execs = append(execs, rueidis.LuaExec{Keys: []string{keyRanks, keyRankIDs}, Args: args})
	}
	var skipped []uuid.UUID
	for _, res := range b.s.rankSync.ExecMulti(ctx, b.bulk, execs...) {
		ids, err := res.AsStrSlice()
		if err != nil {
			return nil, fmt.Errorf("write rank entries: %w", err)
		}
		for _, s := range ids {
			id, err := uuid.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("write rank entries: %w", err)
			}
			skipped = append(skipped, id)
		}
	}
	return skipped, nil
}

// Ranks implements game.Backend in two pipelined rounds. The first writes what
// changed on this node since the last sync, which makes it the Tick's sync while the
// server refreshes every second, and repairs the entries of the asked players due for
// it (repairDue): it reads them from their partitions, which fixes an entry another
// node left stale (it died between a click and its sync). The second reads the ranks,
// rankChunk players a script.
func (b *Backend) Ranks(ctx context.Context, ps []game.Player, out []game.Rank) error {
	if len(out) != len(ps) {
		return fmt.Errorf("ranks: %d players but room for %d", len(ps), len(out))
	}
	now := time.Now().UnixNano()
	known, unread := b.rankDirty.take(rankRound)
	queued := make(map[uuid.UUID]struct{}, len(unread))
	for _, id := range unread {
		queued[id] = struct{}{}
	}
	// Distinct ids: a player's sockets on this node are one player.
	index := make(map[uuid.UUID]int, len(ps))
	ids := make([]uuid.UUID, 0, len(ps))
	read := unread
	var repaired []*entry
	for _, gp := range ps {
		id := gp.ID()
		if _, ok := index[id]; ok {
			continue
		}
		index[id] = len(ids)
		ids = append(ids, id)
		if e := redisPlayer(gp).entry.Load(); b.repairDue(e, now) {
			repaired = append(repaired, e)
			if _, ok := queued[id]; !ok {
				read = append(read, id)
			}
		}
	}
	if err := b.syncEntries(ctx, known, read); err != nil {
		b.rankDirty.requeue(known, unread)
		return b.unavailable("sync ranks", err)
	}
	for _, e := range repaired {
		e.repaired.Store(now)
	}
	if len(known) > 0 || len(unread) > 0 {
		b.lastSync.Store(now)
		b.rankedSync.Store(true)
	}
	asks := make([]rankAsk, len(ids))
	for _, gp := range ps {
		if i := index[gp.ID()]; asks[i].id == uuid.Nil {
			asks[i] = rankAsk{id: gp.ID(), member: redisPlayer(gp).expectedMember()}
		}
	}
	var ranks []game.Rank
	err := b.inOp(ctx, func(ctx context.Context) (err error) {
		ranks, err = b.readRanks(ctx, asks)
		return err
	})
	if err != nil {
		return b.unavailable("read ranks", err)
	}
	for i, p := range ps {
		out[i] = ranks[index[p.ID()]]
	}
	return nil
}

// repairDue reports whether a refresh at now (Unix ns) reads the player of e from its
// partition: at its first refresh on this node, then once a RankRepair.
func (b *Backend) repairDue(e *entry, now int64) bool {
	if b.opts.RankRepair < 0 {
		return true
	}
	last := e.repaired.Load()
	return last == 0 || now-last >= int64(b.opts.RankRepair)
}

// rankAsk is one player whose rank is read, with the member this node expects it to
// have in the game-wide set (empty when it does not know).
type rankAsk struct {
	id     uuid.UUID
	member string
}

// readRanks reads the ranks of the players of ids from the game-wide set.
func (b *Backend) readRanks(ctx context.Context, ids []rankAsk) ([]game.Rank, error) {
	nb := strconv.Itoa(game.Neighbours)
	var execs []rueidis.LuaExec
	for from := 0; from == 0 || from < len(ids); from += rankChunk {
		chunk := ids[from:min(from+rankChunk, len(ids))]
		args := make([]string, 0, 2*len(chunk)+1)
		args = append(args, nb)
		for _, a := range chunk {
			args = append(args, a.id.String(), a.member)
		}
		execs = append(execs, rueidis.LuaExec{Keys: []string{keyRanks, keyRankIDs}, Args: args})
	}
	out := make([]game.Rank, len(ids))
	for j, res := range b.s.rankGet.ExecMulti(ctx, b.bulk, execs...) {
		vals, err := res.ToArray()
		if err != nil {
			return nil, err
		}
		r := reader{vals: vals}
		of := r.int()
		for i := j * rankChunk; i < min((j+1)*rankChunk, len(ids)); i++ {
			out[i] = game.Rank{Of: of, Rank: r.int()}
			if out[i].Rank == 0 {
				continue
			}
			out[i].Best = r.best()
			out[i].Above = r.rows()
			out[i].Below = r.rows()
		}
		if r.err != nil {
			return nil, fmt.Errorf("rank reply: %w", r.err)
		}
		if r.i != len(vals) {
			return nil, fmt.Errorf("rank reply of %d values, read %d", len(vals), r.i)
		}
	}
	return out, nil
}

// rebuildRanks fills the game-wide set from the partitions' boards when it is missing
// but players are ranked: a Redis written by a version without it. A short lock keeps
// two starting nodes from both doing the work; it is idempotent anyway (entries are
// written with change counter 0, so any real change wins, and only where missing).
func (b *Backend) rebuildRanks(ctx context.Context) error {
	octx, cancel := b.op(ctx)
	exists, err := b.c.Do(octx, b.c.B().Exists().Key(keyRankIDs).Build()).AsInt64()
	cancel()
	if err != nil || exists == 1 {
		return err
	}
	cards := make(rueidis.Commands, len(b.parts))
	for i, k := range b.parts {
		cards[i] = b.c.B().Zcard().Key(k.board).Build()
	}
	octx, cancel = b.op(ctx)
	defer cancel()
	sizes := make([]int64, len(b.parts))
	total := int64(0)
	for i, res := range b.c.DoMulti(octx, cards...) {
		if sizes[i], err = res.AsInt64(); err != nil {
			return err
		}
		total += sizes[i]
	}
	if total == 0 {
		return nil
	}
	ok, err := b.c.Do(octx, b.c.B().Set().Key(keyRankLock).Value(b.node).Nx().PxMilliseconds(rebuildLock).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		b.log.Info("redis: another node is building the rank set")
		return nil
	}
	if err != nil || ok != "OK" {
		return fmt.Errorf("take the rank rebuild lock: %w", err)
	}
	defer b.c.Do(context.WithoutCancel(ctx), b.c.B().Del().Key(keyRankLock).Build())
	b.log.Info("redis: building the rank set from the boards", "players", total)
	for i, k := range b.parts {
		for from := int64(0); from < sizes[i]; from += rebuildBatch {
			rctx, rcancel := b.op(ctx)
			z, err := b.c.Do(rctx, b.c.B().Zrange().Key(k.board).Min(strconv.FormatInt(from, 10)).
				Max(strconv.FormatInt(from+rebuildBatch-1, 10)).Withscores().Build()).AsZScores()
			if err != nil {
				rcancel()
				return fmt.Errorf("%s: %w", k.board, err)
			}
			entries := make([]rankEntry, 0, len(z))
			for _, s := range z {
				row, err := parseMember(s.Member, int64(s.Score))
				if err != nil {
					rcancel()
					return err
				}
				entries = append(entries, rankEntry{id: row.ID, q: 0, best: strconv.FormatInt(row.Best, 10), member: s.Member})
			}
			_, err = b.writeEntries(rctx, entries)
			rcancel()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

const (
	rebuildBatch = 4096
	rebuildLock  = 5 * 60 * 1000 // ms; a rebuild of a million players takes seconds
)

// reader walks a script's flat reply, keeping the first error.
type reader struct {
	vals []rueidis.RedisMessage
	i    int
	err  error
}

func (r *reader) next() (rueidis.RedisMessage, bool) {
	if r.err != nil {
		return rueidis.RedisMessage{}, false
	}
	if r.i >= len(r.vals) {
		r.err = fmt.Errorf("reply ends after %d values", r.i)
		return rueidis.RedisMessage{}, false
	}
	r.i++
	return r.vals[r.i-1], true
}

func (r *reader) int() int64 {
	m, ok := r.next()
	if !ok {
		return 0
	}
	n, err := m.AsInt64()
	if err != nil {
		r.err = err
	}
	return n
}

func (r *reader) str() string {
	m, ok := r.next()
	if !ok {
		return ""
	}
	s, err := m.ToString()
	if err != nil {
		r.err = err
	}
	return s
}

// best reads a score as Redis formats it.
func (r *reader) best() int64 {
	s := r.str()
	if r.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		r.err = fmt.Errorf("best %q: %w", s, err)
	}
	return n
}

func (r *reader) rows() []game.RankedRow {
	n := r.int()
	if n < 0 || n > game.Neighbours {
		r.err = fmt.Errorf("%d neighbours", n)
		return nil
	}
	var rows []game.RankedRow
	for range n {
		m, best, rank := r.str(), r.best(), r.int()
		if r.err != nil {
			return nil
		}
		row, err := parseMember(m, best)
		if err != nil {
			r.err = err
			return nil
		}
		rows = append(rows, game.RankedRow{Row: row, Rank: rank})
	}
	return rows
}

// rankBudget is how many players the rank refreshes of the whole game ask about a
// second, all nodes together. Each costs Redis about 20-30 µs here (docs/benchmarks.md,
// "Ranks in Redis"), CPU that every node's clicks share, all of it on the shard of
// {g}: a budget per node would grow that one Redis's rank work with every node added
// (three nodes of 15,000 players took a third of a Redis core that way). 2,000 a
// second is about 50 ms of Redis a second, however many nodes; each node asks for its
// share, in proportion to its players online, so every player of the game is
// refreshed as often: every second up to 2,000 online, every online/2,000 s above.
const rankBudget = 2000

// minRankShare is the least a node's share gets, so that a node with few players
// still refreshes them every second or so while the game-wide count catches up.
const minRankShare = 100

// RankBudget tells the server how many players one refresh should ask about
// (server/server_rank.go rotates the rest): this node's share of rankBudget.
func (b *Backend) RankBudget() int {
	return rankShare(rankBudget, b.reg.online.Load(), b.onlineNow())
}

// rankShare is a node's part of budget when it holds mine of the game's online
// players.
func rankShare(budget, mine, online int64) int {
	if online <= 0 || mine >= online {
		return int(budget)
	}
	return int(max(budget*mine/online, min(minRankShare, budget)))
}
