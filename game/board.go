package game

import (
	"bytes"
	"slices"

	"github.com/google/uuid"
)

// Row is one line of the leaderboard.
type Row struct {
	ID     uuid.UUID
	Handle string
	Best   int64
	BestAt int64 // Unix nanoseconds when Best was reached; earlier ranks higher on a tie
}

// Update is a published leaderboard.
type Update struct {
	// Seq numbers updates; it grows by one with every update the engine publishes.
	Seq uint64
	// Rows is the whole board, best first. It is never modified after publication.
	Rows []Row
	// Changed lists the indexes of Rows that are new or different since update Seq-1.
	// Rows not listed kept their relative order.
	Changed []int
	// Dropped lists the players that were on update Seq-1 and are not on this one.
	Dropped []uuid.UUID
}

// board is the engine's top list. It is touched only under Engine.tickMu.
type board struct {
	size    int
	players []*memPlayer // players of pub's rows, same order
	pub     Publisher

	// Scratch space reused across ticks, so that a tick allocates only what it publishes.
	changed   []*memPlayer
	inChanged map[*memPlayer]bool // changed players; true for those on the board
	cand      []entry
}

type entry struct {
	p   *memPlayer
	row Row
}

func (b *board) init(size int) {
	b.size = size
	b.inChanged = make(map[*memPlayer]bool)
}

// RanksAbove orders rows: higher best first, then who reached it first, then by id so
// that the order is total and every node agrees on it.
func RanksAbove(a, b Row) bool {
	if a.Best != b.Best {
		return a.Best > b.Best
	}
	if a.BestAt != b.BestAt {
		return a.BestAt < b.BestAt
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}

// CompareRows orders rows as the board does, for slices.SortFunc: negative when a
// ranks above b.
func CompareRows(a, b Row) int {
	switch {
	case RanksAbove(a, b):
		return -1
	case RanksAbove(b, a):
		return 1
	}
	return 0
}

func compareEntries(a, b entry) int { return CompareRows(a.row, b.row) }

func rowOf(p *memPlayer) Row {
	if p.removed.Load() || p.hidden.Load() {
		return Row{ID: p.id} // best 0: never on the board
	}
	return Row{ID: p.id, Handle: p.Handle(), Best: p.best.Load(), BestAt: p.bestAt.Load()}
}

// tick folds the players that changed since the last tick into the leaderboard. Its
// cost grows with the number of changed players, not with the number of players. It
// reports false when the board did not change.
func (e *Engine) tick() (Update, bool) {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	b := &e.board
	changed := b.changed[:0]
	for i := range e.lanes {
		n := len(changed)
		changed = e.lanes[i].take(changed)
		for _, p := range changed[n:] {
			e.queueRank(p) // its place in the rank index is filed by the next Ranks
		}
	}
	b.changed = changed
	if e.rebuild.Swap(false) {
		return e.tickRebuild() // a moderator lowered or removed a best: see admin.go
	}
	if len(changed) == 0 {
		return Update{}, false
	}

	clear(b.inChanged)
	for _, p := range changed {
		b.inChanged[p] = false
	}
	rows := b.pub.rows
	cand := b.cand[:0]
	for i, p := range b.players {
		if _, ok := b.inChanged[p]; ok {
			b.inChanged[p] = true // changed and on the board: re-ranked below
			continue
		}
		cand = append(cand, entry{p, rows[i]})
	}
	kept := len(cand)
	for _, p := range changed {
		r := rowOf(p)
		if r.Best == 0 {
			continue
		}
		// A player who cannot beat the current last row of a full board is skipped
		// before sorting; it cannot be on the new board.
		if len(rows) == b.size && !RanksAbove(r, rows[len(rows)-1]) && !b.inChanged[p] {
			continue
		}
		cand = append(cand, entry{p, r})
	}
	b.cand = cand
	if kept == len(cand) && kept == len(b.players) {
		// Only players off the board changed, and none of them made it on.
		return Update{}, false
	}
	slices.SortStableFunc(cand, compareEntries)
	if len(cand) > b.size {
		cand = cand[:b.size]
	}
	return e.publish(cand, false)
}

// fileRanked files anew in the rank index the players on the lanes' ranked lists.
// Called under rankMu.
func (e *Engine) fileRanked() {
	for i := range e.lanes {
		p := e.lanes[i].ranked.Swap(nil)
		for p != nil {
			next := p.rnext
			p.rnext = nil
			p.rqueued.Store(false) // after reading rnext, as for the changed list
			e.ranks.refile(p)
			p = next
		}
	}
}

// publish makes cand the board, unless it holds the same rows (a rename to the same
// handle) and force is false. Called under tickMu.
func (e *Engine) publish(cand []entry, force bool) (Update, bool) {
	b := &e.board
	rows := make([]Row, len(cand))
	for i, c := range cand {
		rows[i] = c.row
	}
	var u Update
	if force {
		u = b.pub.publish(rows)
	} else if u, force = b.pub.Publish(rows); !force {
		return Update{}, false
	}
	b.players = make([]*memPlayer, len(cand))
	for i, c := range cand {
		b.players[i] = c.p
	}
	e.restoreThreshold()
	return u, true
}

// Board implements Backend.
func (e *Engine) Board() Update {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	return e.board.pub.Board()
}

// Rebuild recomputes the leaderboard from every player. It costs a pass over all
// players, so it is for start-up and for rare changes that can lower a best.
func (e *Engine) Rebuild() Update {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	u, _ := e.publish(e.scanTop(), true)
	e.rankMu.Lock()
	e.rebuildRanks()
	e.ranksStale = false
	e.rankMu.Unlock()
	return u
}

// scanTop returns the board's rows computed from every player. Called under tickMu.
func (e *Engine) scanTop() []entry {
	top := make([]entry, 0, e.board.size+1)
	e.store.Range(func(p *memPlayer) bool {
		top = e.board.offer(top, p)
		return true
	})
	return top
}

// offer is one step of a bounded selection: top, sorted, keeps the best b.size
// entries of the players offered so far. It reads only b.size, so loaders may call
// it without tickMu.
func (b *board) offer(top []entry, p *memPlayer) []entry {
	r := rowOf(p)
	if r.Best == 0 {
		return top
	}
	if len(top) == b.size && !RanksAbove(r, top[len(top)-1].row) {
		return top
	}
	i, _ := slices.BinarySearchFunc(top, entry{p, r}, compareEntries)
	top = slices.Insert(top, i, entry{p, r})
	if len(top) > b.size {
		top = top[:b.size]
	}
	return top
}

// rebuildFrom publishes the board made of the best rows of tops, each a board of some
// of the players (loaders' tops that together cover every player).
func (e *Engine) rebuildFrom(tops [][]entry) Update {
	var all []entry
	for _, t := range tops {
		all = append(all, t...)
	}
	slices.SortFunc(all, compareEntries)
	all = all[:min(len(all), e.board.size)]
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	u, _ := e.publish(all, true)
	// The rank index is every player's, not the loaders' tops: a full scan, left to the
	// first Ranks (the server's refresh, beside the tick) so the start does not wait.
	e.rankMu.Lock()
	e.ranksStale = true
	e.rankMu.Unlock()
	return u
}

// Publisher numbers the leaderboards a backend publishes and says what changed from
// one to the next. It is not safe for concurrent use.
type Publisher struct {
	seq  uint64
	rows []Row
	old  map[uuid.UUID]Row // scratch, reused
}

// Board returns the last published board.
func (p *Publisher) Board() Update { return Update{Seq: p.seq, Rows: p.rows} }

// Publish makes rows the board, best first, and returns the Update from the previous
// one; it reports false, and publishes nothing, when rows equal the current board.
// rows must not be modified afterwards.
func (p *Publisher) Publish(rows []Row) (Update, bool) {
	if p.seq > 0 && slices.Equal(rows, p.rows) {
		return Update{}, false
	}
	return p.publish(rows), true
}

// publish is Publish even when nothing changed.
func (p *Publisher) publish(rows []Row) Update {
	if p.old == nil {
		p.old = make(map[uuid.UUID]Row, len(rows))
	}
	clear(p.old)
	for _, r := range p.rows {
		p.old[r.ID] = r
	}
	u := Update{Rows: rows}
	for i, r := range rows {
		if old, ok := p.old[r.ID]; !ok || old != r {
			u.Changed = append(u.Changed, i)
		}
		delete(p.old, r.ID)
	}
	for id := range p.old {
		u.Dropped = append(u.Dropped, id)
	}
	p.seq++
	u.Seq = p.seq
	p.rows = rows
	return u
}

// take empties the lane's changed list and appends its players to dst; each of them
// may be queued again from then on.
func (l *lane) take(dst []*memPlayer) []*memPlayer {
	p := l.changed.Swap(nil)
	for p != nil {
		next := p.next
		p.next = nil
		// Clear the flag only after reading next: from here on a click may queue p
		// again, which rewrites p.next.
		p.queued.Store(false)
		dst = append(dst, p)
		p = next
	}
	return dst
}
