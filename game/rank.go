package game

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// Neighbours is how many players just above, and just below, a player's Rank lists.
const Neighbours = 2

// Rank is where one player stands among every player on the ranking: the players with
// a best above 0 who are not hidden from the public board.
type Rank struct {
	// Rank is 1 + the number of players with a strictly higher best, so that equal
	// bests share a rank; 0 when the player is not on the ranking (no best yet, or
	// hidden by a moderator).
	Rank int64
	// Of is the number of players on the ranking.
	Of int64
	// Best is the best the rank was computed for.
	Best int64
	// Above lists up to Neighbours players ranked just above the player, in the
	// board's order (the nearest last); Below up to Neighbours just below (the nearest
	// first). Both are empty when the player is not on the ranking.
	Above, Below []RankedRow
}

// RankedRow is a neighbour in a Rank: the row and its shared rank.
type RankedRow struct {
	Row
	// Rank is 1 + the number of players with a strictly higher best.
	Rank int64
}

// Equal reports whether r and o would show the same to a player.
func (r Rank) Equal(o Rank) bool {
	return r.Rank == o.Rank && r.Of == o.Of && r.Best == o.Best &&
		slices.Equal(r.Above, o.Above) && slices.Equal(r.Below, o.Below)
}

// The in-memory engine's rank index: every player on the ranking, in the board's order,
// kept in sorted blocks with a Fenwick tree over the blocks' lengths. A click whose
// best rose queues its player at most once (the board's changed list, or the lane's
// ranked list when below the board), the tick moves the board's to the ranked lists,
// and Ranks files them all before it answers: neither a click nor the tick pays for
// the index, which is brought up to date once per refresh, about once a second. A rank is a binary search over the blocks'
// last entries, one inside a block and a prefix sum over the tree.
//
// Blocks are split when they outgrow twice rankBlock; their number stays small (about
// 2,000 at a million players), so rebuilding the tree after a split is cheap next to
// the moves it saves.
const rankBlock = 512

// rankEntry is one player in the index, under the key it was filed with: the key is
// copied so that a best changing under a click cannot unsort the index.
type rankEntry struct {
	best, at int64
	// id8 is the first 8 bytes of the id, big-endian: it settles nearly every tie
	// without a trip to the player (a cache miss per step of a search).
	id8 uint64
	p   *memPlayer
}

func entryOf(best, at int64, p *memPlayer) rankEntry {
	return rankEntry{best: best, at: at, id8: binary.BigEndian.Uint64(p.id[:8]), p: p}
}

// above reports whether a ranks above b, as RanksAbove orders rows.
func (a rankEntry) above(b rankEntry) bool {
	if a.best != b.best {
		return a.best > b.best
	}
	if a.at != b.at {
		return a.at < b.at
	}
	if a.id8 != b.id8 {
		return a.id8 < b.id8
	}
	return bytes.Compare(a.p.id[8:], b.p.id[8:]) < 0
}

type rankIndex struct {
	// block is the length blocks are built and split to (rankBlock when 0); tests make
	// it small to exercise splits and merges with few players.
	block  int
	blocks [][]rankEntry
	lasts  []rankEntry // the last entry of every block
	fen    []int       // Fenwick tree over len(blocks[i]), 1-based
	n      int
}

func (x *rankIndex) blockLen() int {
	if x.block > 0 {
		return x.block
	}
	return rankBlock
}

// build makes the index hold exactly entries, in any order.
func (x *rankIndex) build(entries []rankEntry) {
	slices.SortFunc(entries, func(a, b rankEntry) int {
		switch {
		case a.above(b):
			return -1
		case b.above(a):
			return 1
		}
		return 0
	})
	x.blocks = x.blocks[:0]
	bl := x.blockLen()
	for i := 0; i < len(entries); i += bl {
		blk := make([]rankEntry, 0, 2*bl+1)
		x.blocks = append(x.blocks, append(blk, entries[i:min(i+bl, len(entries))]...))
	}
	x.n = len(entries)
	x.relast()
}

func (x *rankIndex) refen() {
	x.fen = slices.Grow(x.fen[:0], len(x.blocks)+1)[:len(x.blocks)+1]
	clear(x.fen)
	for i, b := range x.blocks {
		x.fen[i+1] += len(b)
		if j := i + 1 + (i+1)&-(i+1); j <= len(x.blocks) {
			x.fen[j] += x.fen[i+1]
		}
	}
}

func (x *rankIndex) fenAdd(bi, d int) {
	for i := bi + 1; i < len(x.fen); i += i & -i {
		x.fen[i] += d
	}
}

// prefix returns the number of entries in the blocks before bi.
func (x *rankIndex) prefix(bi int) int {
	n := 0
	for i := bi; i > 0; i -= i & -i {
		n += x.fen[i]
	}
	return n
}

// searchKey returns the block and the place in it of the first entry that e does not
// rank below: where e is, or would go. Past the end it is (last block, its length);
// in an empty index (0, 0). The blocks are found through lasts, which keeps the first
// steps of the search in a few cache lines instead of one per block.
func (x *rankIndex) searchKey(e rankEntry) (bi, i int) {
	lo, hi := 0, len(x.lasts)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if x.lasts[mid].above(e) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(x.lasts) {
		if lo == 0 {
			return 0, 0
		}
		return lo - 1, len(x.blocks[lo-1])
	}
	b := x.blocks[lo]
	l, h := 0, len(b)
	for l < h {
		mid := int(uint(l+h) >> 1)
		if b[mid].above(e) {
			l = mid + 1
		} else {
			h = mid
		}
	}
	return lo, l
}

// countAbove returns the number of entries with a best strictly above best.
func (x *rankIndex) countAbove(best int64) int {
	lo, hi := 0, len(x.lasts)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if x.lasts[mid].best > best {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(x.lasts) {
		return x.n
	}
	b := x.blocks[lo]
	l, h := 0, len(b)
	for l < h {
		mid := int(uint(l+h) >> 1)
		if b[mid].best > best {
			l = mid + 1
		} else {
			h = mid
		}
	}
	return x.prefix(lo) + l
}

// relast rebuilds lasts and the Fenwick tree after blocks were added or removed.
func (x *rankIndex) relast() {
	x.lasts = x.lasts[:0]
	for _, b := range x.blocks {
		x.lasts = append(x.lasts, b[len(b)-1])
	}
	x.refen()
}

func (x *rankIndex) insert(e rankEntry) {
	if len(x.blocks) == 0 {
		x.blocks = append(x.blocks, append(make([]rankEntry, 0, 2*x.blockLen()+1), e))
		x.n = 1
		x.relast()
		return
	}
	bi, i := x.searchKey(e)
	x.blocks[bi] = slices.Insert(x.blocks[bi], i, e)
	x.n++
	if len(x.blocks[bi]) <= 2*x.blockLen() {
		x.fenAdd(bi, 1)
		x.lasts[bi] = x.blocks[bi][len(x.blocks[bi])-1]
		return
	}
	// Split in two halves, each with room to grow without reallocating.
	b := x.blocks[bi]
	tail := append(make([]rankEntry, 0, 2*x.blockLen()+1), b[len(b)/2:]...)
	clear(b[len(b)/2:])
	x.blocks[bi] = b[:len(b)/2]
	x.blocks = slices.Insert(x.blocks, bi+1, tail)
	x.relast()
}

// delete removes e, which must be in the index under exactly this key.
func (x *rankIndex) delete(e rankEntry) bool {
	bi, i := x.searchKey(e)
	if len(x.blocks) == 0 || i >= len(x.blocks[bi]) || x.blocks[bi][i].p != e.p {
		return false
	}
	x.blocks[bi] = slices.Delete(x.blocks[bi], i, i+1)
	x.n--
	if b := x.blocks[bi]; len(b) > 0 {
		x.fenAdd(bi, -1)
		x.lasts[bi] = b[len(b)-1]
		return true
	}
	x.blocks = slices.Delete(x.blocks, bi, bi+1)
	x.relast()
	return true
}

// rankOf fills r for e, and reports false when e is not in the index.
func (x *rankIndex) rankOf(e rankEntry, r *Rank) bool {
	bi, i := x.searchKey(e)
	if len(x.blocks) == 0 || i >= len(x.blocks[bi]) || x.blocks[bi][i].p != e.p {
		return false
	}
	*r = Rank{Rank: int64(x.countAbove(e.best)) + 1, Of: int64(x.n), Best: e.best}
	// Walk up to Neighbours entries each way from (bi, i).
	ub, ui := bi, i
	for len(r.Above) < Neighbours {
		if ui == 0 {
			if ub == 0 {
				break
			}
			ub--
			ui = len(x.blocks[ub])
		}
		ui--
		r.Above = append(r.Above, x.ranked(x.blocks[ub][ui], e, r.Rank))
	}
	slices.Reverse(r.Above)
	db, di := bi, i
	for len(r.Below) < Neighbours {
		di++
		if di >= len(x.blocks[db]) {
			if db+1 >= len(x.blocks) {
				break
			}
			db, di = db+1, 0
		}
		r.Below = append(r.Below, x.ranked(x.blocks[db][di], e, r.Rank))
	}
	return true
}

// ranked is o as a neighbour of e, whose rank is rank.
func (x *rankIndex) ranked(o, e rankEntry, rank int64) RankedRow {
	rr := RankedRow{Row: Row{ID: o.p.id, Handle: o.p.Handle(), Best: o.best, BestAt: o.at}, Rank: rank}
	if o.best != e.best {
		rr.Rank = int64(x.countAbove(o.best)) + 1
	}
	return rr
}

// rankKey is the key p belongs under now: best 0 (off the ranking) when removed or
// hidden.
func rankKey(p *memPlayer) rankEntry {
	r := rowOf(p)
	return entryOf(r.Best, r.BestAt, p)
}

// refile moves p to the key it belongs under now. Called under rankMu.
func (x *rankIndex) refile(p *memPlayer) {
	k := rankKey(p)
	if k.best == p.rankBest && k.at == p.rankAt {
		return
	}
	if p.rankBest > 0 {
		x.delete(entryOf(p.rankBest, p.rankAt, p))
	}
	if k.best > 0 {
		x.insert(k)
	}
	p.rankBest, p.rankAt = k.best, k.at
}

// rebuildRanks files every player anew, from a full scan. Called under rankMu.
func (e *Engine) rebuildRanks() {
	var all []rankEntry
	e.store.Range(func(p *memPlayer) bool {
		k := rankKey(p)
		p.rankBest, p.rankAt = k.best, k.at
		if k.best > 0 {
			all = append(all, k)
		}
		return true
	})
	e.ranks.build(all)
}

// rankOf fills r with p's rank as of the last fileRanked. Called under rankMu.
func (e *Engine) rankOf(p *memPlayer, r *Rank) {
	if p.rankBest <= 0 || p.removed.Load() || !e.ranks.rankOf(entryOf(p.rankBest, p.rankAt, p), r) {
		*r = Rank{Of: int64(e.ranks.n)}
	}
}
