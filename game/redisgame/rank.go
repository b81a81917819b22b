package redisgame

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// Ranks across partitions. A player's rank is 1 + the players with a higher best in
// every partition's board, so a node asks all 64 partitions at once about all of its
// players (the pivots): two pipelined rounds of one script per partition, whatever
// the number of players, each script touching one partition's keys (one slot).
//
//  1. rankSelf, on the partitions of the node's players: each player's board member
//     and best, as Redis holds them now (the node's own copy may lag a click made on
//     another node).
//  2. rankAround, on every partition, with all pivots: for each, how many of the
//     partition's players have a higher best (gt) and an equal one (eq), and the
//     partition's players just above and just below the pivot in the board's order,
//     each with how many of the partition share its best.
//
// The node merges: the nearest Neighbours above and below over all partitions are
// the player's neighbours, and their ranks follow from the counts (see merge). The
// Redis work is a few O(log n) calls per pivot and partition; pivots are sent in
// chunks so that no single script holds Redis for long, and one call refreshes at most
// rankBudget players (see Ranks).

const (
	rankSelfSrc = `
local out = {}
for i = 2, #KEYS do
  local m = redis.call('HGET', KEYS[i], 'm')
  local sc = m and redis.call('ZSCORE', KEYS[1], m)
  if sc then
    out[#out+1] = sc
    out[#out+1] = string.sub(m, 1, 48)
  else
    out[#out+1] = '0'
    out[#out+1] = ''
  end
end
return out
`
	// rankAroundSrc: KEYS: board. ARGV: pairs of best and member head (tie bits and
	// flipped id), the pivots. Returns the board's size, then per pivot: gt, eq, the
	// count of entries above, those entries (member, best, players at that best) in
	// REV order, the count of entries below and those entries likewise.
	rankAroundSrc = `
local board = KEYS[1]
local out = {redis.call('ZCARD', board)}
local counts = {}
local function countAt(sc)
  local c = counts[sc]
  if not c then
    c = redis.call('ZCOUNT', board, sc, sc)
    counts[sc] = c
  end
  return c
end
local function emit(z, first, last)
  out[#out+1] = (last - first + 1) / 2
  for j = first, last, 2 do
    out[#out+1] = z[j]
    out[#out+1] = z[j+1]
    out[#out+1] = countAt(z[j+1])
  end
end
for i = 1, #ARGV, 2 do
  local s, head = ARGV[i], ARGV[i+1]
  local gt = redis.call('ZCOUNT', board, '(' .. s, '+inf')
  local eq = countAt(s)
  -- Players tied at s sit at REV ranks gt .. gt+eq-1, members descending: find the
  -- first that does not rank above the pivot.
  local lo, hi = gt, gt + eq
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local m = redis.call('ZRANGE', board, mid, mid, 'REV')[1]
    if string.sub(m, 1, 48) > head then lo = mid + 1 else hi = mid end
  end
  -- One read for both sides: two above, the pivot itself if it is here, two below.
  local from = math.max(lo - 2, 0)
  local z = redis.call('ZRANGE', board, from, lo + 2, 'REV', 'WITHSCORES')
  local nAbove = lo - from
  local below = 2 * nAbove + 1
  if z[below] and string.sub(z[below], 1, 48) == head then below = below + 2 end
  out[#out+1] = gt
  out[#out+1] = eq
  emit(z, 1, 2 * nAbove)
  emit(z, below, math.min(#z, below + 3))
end
return out
`
)

// rankChunk is the most pivots one rankAround call takes.
const rankChunk = 256

// pivot is one ranked player as Redis holds it.
type pivot struct {
	best int64
	head string // the member's first memberHead characters
}

// around is what one partition said about one pivot.
type around struct {
	gt, eq       int64
	above, below []aroundRow // above: farthest first; below: nearest first
}

type aroundRow struct {
	row   game.Row
	count int64 // the partition's players with row.Best
}

// rankBudget is the most players one Ranks call asks Redis about. Redis's work is a few
// calls per player and partition (BenchmarkRanksRedis: about 2 ms of script time per
// player on the test machine, so 128 players hold one Redis for about a quarter of a
// second); the players beyond the budget keep the rank they were last given, and the
// longest unrefreshed go first next time. With more connected players than this, a
// player's rank is refreshed every connected/rankBudget seconds, not every second.
const rankBudget = 128

// rankCache is what the node last answered for each player it was asked about.
type rankCache struct {
	mu    sync.Mutex // one Ranks at a time
	calls int64
	last  map[uuid.UUID]cachedRank
}

type cachedRank struct {
	rank game.Rank
	call int64 // the call that refreshed it
}

// Ranks implements game.Backend. It refreshes at most rankBudget players per call,
// players it never answered for first, then those refreshed longest ago; the others
// get their last answer.
func (b *Backend) Ranks(ctx context.Context, ps []game.Player, out []game.Rank) error {
	if len(out) != len(ps) {
		return fmt.Errorf("ranks: %d players but room for %d", len(ps), len(out))
	}
	c := &b.ranks
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	// The players to refresh: distinct, never answered or answered longest ago.
	seen := make(map[uuid.UUID]bool, len(ps))
	var stale []game.Player
	for _, p := range ps {
		if !seen[p.ID()] {
			seen[p.ID()] = true
			stale = append(stale, p)
		}
	}
	slices.SortStableFunc(stale, func(x, y game.Player) int {
		return cmp.Compare(c.last[x.ID()].call, c.last[y.ID()].call)
	})
	stale = stale[:min(len(stale), rankBudget)]
	fresh := make([]game.Rank, len(stale))
	if err := b.ranksOf(ctx, stale, fresh); err != nil {
		return err
	}
	next := make(map[uuid.UUID]cachedRank, len(seen))
	for id := range seen {
		if r, ok := c.last[id]; ok {
			next[id] = r
		}
	}
	for i, p := range stale {
		next[p.ID()] = cachedRank{rank: fresh[i], call: c.calls}
	}
	c.last = next
	for i, p := range ps {
		out[i] = next[p.ID()].rank
	}
	return nil
}

// ranksOf fills out[i] with the rank of ps[i] as Redis holds it now.
func (b *Backend) ranksOf(ctx context.Context, ps []game.Player, out []game.Rank) error {
	ctx, cancel := b.op(ctx)
	defer cancel()
	pivots, err := b.pivots(ctx, ps)
	if err != nil {
		return b.unavailable("read ranked players", err)
	}
	// Distinct pivots: a player's sockets on this node are one player.
	index := make(map[pivot]int)
	var distinct []pivot
	for _, pv := range pivots {
		if _, ok := index[pv]; !ok && pv.best > 0 {
			index[pv] = len(distinct)
			distinct = append(distinct, pv)
		}
	}
	of, arounds, err := b.around(ctx, distinct)
	if err != nil {
		return b.unavailable("read ranks", err)
	}
	for i, pv := range pivots {
		out[i] = game.Rank{Of: of}
		if j, ok := index[pv]; ok {
			merge(&out[i], pv.best, arounds[j])
		}
	}
	return nil
}

// pivots reads the board member and best of every player of ps, one script per
// partition.
func (b *Backend) pivots(ctx context.Context, ps []game.Player) ([]pivot, error) {
	byPart := make(map[int][]int)
	for i, gp := range ps {
		n := partitionOf(gp.ID())
		byPart[n] = append(byPart[n], i)
	}
	parts := make([]int, 0, len(byPart))
	execs := make([]rueidis.LuaExec, 0, len(byPart))
	for n, idx := range byPart {
		keys := make([]string, 0, len(idx)+1)
		keys = append(keys, b.parts[n].board)
		for _, i := range idx {
			keys = append(keys, redisPlayer(ps[i]).key)
		}
		parts = append(parts, n)
		execs = append(execs, rueidis.LuaExec{Keys: keys})
	}
	out := make([]pivot, len(ps))
	for j, res := range b.s.rankSelf.ExecMulti(ctx, b.c, execs...) {
		vals, err := res.ToArray()
		if err != nil {
			return nil, err
		}
		idx := byPart[parts[j]]
		if len(vals) != 2*len(idx) {
			return nil, fmt.Errorf("rank self reply of %d values for %d players", len(vals), len(idx))
		}
		for k, i := range idx {
			s, err := vals[2*k].ToString()
			if err != nil {
				return nil, err
			}
			best, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("best %q: %w", s, err)
			}
			head, err := vals[2*k+1].ToString()
			if err != nil {
				return nil, err
			}
			if best > 0 && len(head) == memberHead {
				out[i] = pivot{best: best, head: head}
			}
		}
	}
	return out, nil
}

// around asks every partition about every pivot and returns the number of ranked
// players and, per pivot, the partitions' answers.
func (b *Backend) around(ctx context.Context, pivots []pivot) (int64, [][]around, error) {
	type call struct{ part, from int }
	var calls []call
	var execs []rueidis.LuaExec
	for n := range b.parts {
		for from := 0; from == 0 || from < len(pivots); from += rankChunk {
			chunk := pivots[from:min(from+rankChunk, len(pivots))]
			args := make([]string, 0, 2*len(chunk))
			for _, pv := range chunk {
				args = append(args, strconv.FormatInt(pv.best, 10), pv.head)
			}
			calls = append(calls, call{n, from})
			execs = append(execs, rueidis.LuaExec{Keys: []string{b.parts[n].board}, Args: args})
		}
	}
	out := make([][]around, len(pivots))
	for i := range out {
		out[i] = make([]around, 0, partitions)
	}
	var of int64
	for j, res := range b.s.rankAround.ExecMulti(ctx, b.c, execs...) {
		vals, err := res.ToArray()
		if err != nil {
			return 0, nil, err
		}
		r := reader{vals: vals}
		card := r.int()
		if calls[j].from == 0 {
			of += card
		}
		for i := calls[j].from; i < min(calls[j].from+rankChunk, len(pivots)); i++ {
			a := around{gt: r.int(), eq: r.int()}
			a.above = r.rows()
			a.below = r.rows()
			out[i] = append(out[i], a)
		}
		if r.err != nil {
			return 0, nil, fmt.Errorf("%s: rank reply: %w", b.parts[calls[j].part].board, r.err)
		}
		if r.i != len(vals) {
			return 0, nil, fmt.Errorf("%s: rank reply of %d values, read %d", b.parts[calls[j].part].board, len(vals), r.i)
		}
	}
	return of, out, nil
}

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

func (r *reader) rows() []aroundRow {
	n := r.int()
	if n < 0 || n > game.Neighbours {
		r.err = fmt.Errorf("%d neighbours", n)
		return nil
	}
	rows := make([]aroundRow, 0, n)
	for range n {
		m, sc, count := r.str(), r.str(), r.int()
		if r.err != nil {
			return nil
		}
		best, err := strconv.ParseInt(sc, 10, 64)
		if err != nil {
			r.err = fmt.Errorf("best %q: %w", sc, err)
			return nil
		}
		row, err := parseMember(m, best)
		if err != nil {
			r.err = err
			return nil
		}
		rows = append(rows, aroundRow{row: row, count: count})
	}
	return rows
}

// merge fills r for a player with best s from every partition's answer.
//
// The rank is 1 + the sum of gt. The neighbours are the nearest above and below over
// all partitions. A neighbour's rank is 1 + the players with a best above its own:
// for a neighbour above at best v > s that is the players above s less those whose
// best lies in (s, v]; for one below at w < s, the players above s, those at s and
// those in (w, s). Every player with a best in those ranges is between the player and
// the neighbour, or tied with the neighbour, so each partition holding one returned it
// among its nearest, with its partition's count at that best: the sums over the
// partitions' answers are exact.
func merge(r *game.Rank, s int64, parts []around) {
	var gt, eq int64
	var up, down []game.Row
	upCount, downCount := map[int64]int64{}, map[int64]int64{}
	for _, a := range parts {
		gt += a.gt
		eq += a.eq
		seen := map[int64]bool{}
		for _, x := range a.above {
			up = append(up, x.row)
			if !seen[x.row.Best] && x.row.Best != s {
				seen[x.row.Best] = true
				upCount[x.row.Best] += x.count
			}
		}
		clear(seen)
		for _, x := range a.below {
			down = append(down, x.row)
			if !seen[x.row.Best] && x.row.Best != s {
				seen[x.row.Best] = true
				downCount[x.row.Best] += x.count
			}
		}
	}
	r.Rank, r.Best = gt+1, s
	slices.SortFunc(up, game.CompareRows)
	slices.SortFunc(down, game.CompareRows)
	up = up[max(len(up)-game.Neighbours, 0):]
	down = down[:min(len(down), game.Neighbours)]
	for _, row := range up {
		rank := r.Rank
		if row.Best != s {
			for u, c := range upCount {
				if u > s && u <= row.Best {
					rank -= c
				}
			}
		}
		r.Above = append(r.Above, game.RankedRow{Row: row, Rank: rank})
	}
	for _, row := range down {
		rank := r.Rank
		if row.Best != s {
			rank += eq
			for u, c := range downCount {
				if u > row.Best && u < s {
					rank += c
				}
			}
		}
		r.Below = append(r.Below, game.RankedRow{Row: row, Rank: rank})
	}
}
