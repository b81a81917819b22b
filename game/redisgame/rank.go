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
// The partition scripts cannot write them (another slot), so a node copies what Redis
// holds in the partitions (sync): one read-only script per partition reads each
// player's member, best and change counter, then one script on {g} writes the entries
// whose counter is newer than the stored one (an older reading, sent late by another
// node, loses), and removes the players who are gone. A node syncs:
//   - at each Tick, the players whose best or board membership changed on it (clicks);
//   - right after a moderation call it served, or an import, the players it touched;
//   - in Ranks, every player it is asked about, so a connected player's entry is
//     repaired every second even if the node that changed it died before its sync.
//
// A rank is then 1 + ZCOUNT above the player's best, Of is ZCARD and the neighbours
// are ZRANGE around ZREVRANK: a few O(log n) calls per player, whatever the number of
// partitions. A click on one node shows in the other nodes' answers after that node's
// next Tick.

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
	// rankSyncSrc: KEYS: ranks, rank ids. ARGV: quads of id, change counter (-1: gone),
	// best, member ('' when unranked). Returns how many entries it changed.
	rankSyncSrc = `
local n = 0
for i = 1, #ARGV, 4 do
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
      n = n + 1
    end
  elseif (not cur and m ~= '') or (cur and q > cq) then
    if cm ~= m then
      if cm ~= '' then redis.call('ZREM', KEYS[1], cm) end
      if m ~= '' then redis.call('ZADD', KEYS[1], sc, m) end
      n = n + 1
    end
    redis.call('HSET', KEYS[2], id, ARGV[i+1] .. ' ' .. m)
  end
end
return n
`
	// rankGetSrc: KEYS: ranks, rank ids. ARGV: the number of neighbours on each side,
	// then triples of id, member and best as the partition held them just before
	// ('' when unranked). The set is read by the member; only when it is not there
	// (another node synced a later change meanwhile) is the id looked up. Returns
	// ZCARD, then per player its rank (0: unranked) and, when ranked, its best, the
	// count of neighbours above and those (member, best, rank) farthest first, the
	// count below and those nearest first.
	rankGetSrc = `
local z = KEYS[1]
local nb = tonumber(ARGV[1])
local out = {redis.call('ZCARD', z)}
local ranks = {}
local function rankAt(sc)
  local r = ranks[sc]
  if not r then
    r = redis.call('ZCOUNT', z, '(' .. sc, '+inf') + 1
    ranks[sc] = r
  end
  return r
end
local function emit(rows, first, last)
  out[#out+1] = (last - first + 1) / 2
  for j = first, last, 2 do
    out[#out+1] = rows[j]
    out[#out+1] = rows[j+1]
    out[#out+1] = rankAt(rows[j+1])
  end
end
for i = 2, #ARGV, 3 do
  local m, sc = ARGV[i+1], ARGV[i+2]
  local idx = m ~= '' and redis.call('ZREVRANK', z, m)
  if not idx then
    local cur = redis.call('HGET', KEYS[2], ARGV[i])
    m = cur and string.sub(cur, string.find(cur, ' ', 1, true) + 1)
    idx = m and m ~= '' and redis.call('ZREVRANK', z, m)
    sc = idx and redis.call('ZSCORE', z, m)
  end
  if not idx then
    out[#out+1] = 0
  else
    out[#out+1] = rankAt(sc)
    out[#out+1] = sc
    local from = math.max(idx - nb, 0)
    local rows = redis.call('ZRANGE', z, from, idx + nb, 'REV', 'WITHSCORES')
    local above = idx - from
    emit(rows, 1, 2 * above)
    emit(rows, 2 * above + 3, #rows)
  end
end
return out
`
)

// rankDirty holds the players whose board entry changed on this node since the last
// sync (Tick).
type rankDirty struct {
	mu  sync.Mutex
	ids map[uuid.UUID]struct{}
}

func (d *rankDirty) add(id uuid.UUID) {
	d.mu.Lock()
	if d.ids == nil {
		d.ids = make(map[uuid.UUID]struct{})
	}
	d.ids[id] = struct{}{}
	d.mu.Unlock()
}

// requeue puts back ids taken for a sync that failed.
func (d *rankDirty) requeue(ids []uuid.UUID) {
	d.mu.Lock()
	if d.ids == nil {
		d.ids = make(map[uuid.UUID]struct{}, len(ids))
	}
	for _, id := range ids {
		d.ids[id] = struct{}{}
	}
	d.mu.Unlock()
}

func (d *rankDirty) take() []uuid.UUID {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]uuid.UUID, 0, len(d.ids))
	for id := range d.ids {
		out = append(out, id)
	}
	clear(d.ids)
	return out
}

// flushRanks syncs the players that changed on this node; on failure they stay
// queued for the next Tick.
func (b *Backend) flushRanks(ctx context.Context) error {
	ids := b.rankDirty.take()
	if len(ids) == 0 {
		return nil
	}
	if err := b.syncRanks(ctx, ids); err != nil {
		b.rankDirty.requeue(ids)
		return err
	}
	return nil
}

// syncRank is syncRanks for one player after a moderation call. A failure only leaves
// the entry stale until the player's next change or refresh, so it is logged, not
// returned: the call itself succeeded.
func (b *Backend) syncRank(ctx context.Context, id uuid.UUID) {
	if err := b.syncRanks(ctx, []uuid.UUID{id}); err != nil {
		b.rankDirty.add(id)
		b.log.Warn("redis: rank entry not updated; retried at the next tick", "player", id, "err", err)
	}
}

// rankEntry is one player's board entry as its partition holds it.
type rankEntry struct {
	id     uuid.UUID
	q      string // change counter, "-1" when the player is gone
	best   string
	member string
}

// syncRanks copies the partition state of ids into the game-wide set.
func (b *Backend) syncRanks(ctx context.Context, ids []uuid.UUID) error {
	var entries []rankEntry
	err := b.inOp(ctx, func(ctx context.Context) (err error) {
		entries, err = b.readEntries(ctx, ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("read rank entries: %w", err)
	}
	return b.inOp(ctx, func(ctx context.Context) error { return b.writeEntries(ctx, entries) })
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
	for j, res := range b.s.rankRead.ExecMulti(ctx, b.c, execs...) {
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
			e := rankEntry{id: id, q: strconv.FormatInt(r.int(), 10), member: r.str(), best: r.str()}
			out = append(out, e)
		}
		if r.err != nil {
			return nil, fmt.Errorf("%s: rank read reply: %w", b.parts[parts[j]].board, r.err)
		}
	}
	return out, nil
}

// writeEntries applies entries to the game-wide set, rankChunk a script.
func (b *Backend) writeEntries(ctx context.Context, entries []rankEntry) error {
	var execs []rueidis.LuaExec
	for from := 0; from < len(entries); from += rankChunk {
		chunk := entries[from:min(from+rankChunk, len(entries))]
		args := make([]string, 0, 4*len(chunk))
		for _, e := range chunk {
			args = append(args, e.id.String(), e.q, e.best, e.member)
		}
		execs = append(execs, rueidis.LuaExec{Keys: []string{keyRanks, keyRankIDs}, Args: args})
	}
	for _, res := range b.s.rankSync.ExecMulti(ctx, b.c, execs...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("write rank entries: %w", err)
		}
	}
	return nil
}

// Ranks implements game.Backend: every player asked about is synced first (which
// repairs an entry another node left stale), then read, rankChunk players a script.
//
// The players whose entry changed on this node since the last sync are synced in the
// same round, and that round counts as the Tick's sync: with the server asking about
// its connected players every second, each of them is read from its partition once a
// second, not once for the Tick and again for its rank.
func (b *Backend) Ranks(ctx context.Context, ps []game.Player, out []game.Rank) error {
	if len(out) != len(ps) {
		return fmt.Errorf("ranks: %d players but room for %d", len(ps), len(out))
	}
	// Distinct ids: a player's sockets on this node are one player.
	index := make(map[uuid.UUID]int, len(ps))
	var ids []uuid.UUID
	for _, p := range ps {
		if _, ok := index[p.ID()]; !ok {
			index[p.ID()] = len(ids)
			ids = append(ids, p.ID())
		}
	}
	asked := len(ids)
	dirty := b.rankDirty.take()
	for _, id := range dirty {
		if _, ok := index[id]; !ok {
			ids = append(ids, id)
		}
	}
	// Each round has the op timeout of its own: at 15k players a round is a large
	// pipeline, and the three must not share one op's time.
	var entries []rankEntry
	var ranks []game.Rank
	err := b.inOp(ctx, func(ctx context.Context) (err error) {
		entries, err = b.readEntries(ctx, ids)
		return err
	})
	if err != nil {
		b.rankDirty.requeue(dirty)
		return b.unavailable("read rank entries", err)
	}
	if err := b.inOp(ctx, func(ctx context.Context) error { return b.writeEntries(ctx, entries) }); err != nil {
		b.rankDirty.requeue(dirty)
		return b.unavailable("sync ranks", err)
	}
	if len(dirty) > 0 {
		b.lastSync.Store(time.Now().UnixNano())
		b.rankedSync.Store(true)
	}
	if len(ids) > asked {
		// Only the players asked about are read back (readEntries grouped them by
		// partition, so the order is theirs, not ps's).
		entries = slices.DeleteFunc(entries, func(e rankEntry) bool {
			_, ok := index[e.id]
			return !ok
		})
	}
	err = b.inOp(ctx, func(ctx context.Context) (err error) {
		ranks, err = b.readRanks(ctx, entries)
		return err
	})
	if err != nil {
		return b.unavailable("read ranks", err)
	}
	for i, e := range entries {
		index[e.id] = i
	}
	for i, p := range ps {
		out[i] = ranks[index[p.ID()]]
	}
	return nil
}

// readRanks reads the ranks of the players of entries from the game-wide set.
func (b *Backend) readRanks(ctx context.Context, entries []rankEntry) ([]game.Rank, error) {
	nb := strconv.Itoa(game.Neighbours)
	var execs []rueidis.LuaExec
	for from := 0; from == 0 || from < len(entries); from += rankChunk {
		chunk := entries[from:min(from+rankChunk, len(entries))]
		args := make([]string, 0, 3*len(chunk)+1)
		args = append(args, nb)
		for _, e := range chunk {
			args = append(args, e.id.String(), e.member, e.best)
		}
		execs = append(execs, rueidis.LuaExec{Keys: []string{keyRanks, keyRankIDs}, Args: args})
	}
	ids := entries
	out := make([]game.Rank, len(ids))
	for j, res := range b.s.rankGet.ExecMulti(ctx, b.c, execs...) {
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
				entries = append(entries, rankEntry{id: row.ID, q: "0", best: strconv.FormatInt(row.Best, 10), member: s.Member})
			}
			err = b.writeEntries(rctx, entries)
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

// rankBudget is how many players one refresh of a node asks about. Each costs Redis
// about 45 µs here (docs/benchmarks.md, "Ranks in Redis"), CPU that every node's clicks
// share: 2,000 a second is about 90 ms of Redis a second per node, so three nodes of
// 15,000 players take about a quarter of a Redis core, and each player's rank is
// refreshed every 7-8 s at that size (every second up to 2,000 players a node).
const rankBudget = 2000

// RankBudget tells the server how many players one refresh should ask about
// (server/server_rank.go rotates the rest).
func (b *Backend) RankBudget() int { return rankBudget }
