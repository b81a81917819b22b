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
	seq     uint64
	players []*Player // players of rows, same order
	rows    []Row

	// Scratch space reused across ticks, so that a tick allocates only what it publishes.
	changed   []*Player
	inChanged map[*Player]bool // changed players; true for those on the board
	old       map[*Player]Row
	cand      []entry
}

type entry struct {
	p   *Player
	row Row
}

func (b *board) init(size int) {
	b.size = size
	b.inChanged = make(map[*Player]bool)
	b.old = make(map[*Player]Row)
}

// ranksAbove orders rows: higher best first, then who reached it first, then by id so
// that the order is total and every node agrees on it.
func ranksAbove(a, b Row) bool {
	if a.Best != b.Best {
		return a.Best > b.Best
	}
	if a.BestAt != b.BestAt {
		return a.BestAt < b.BestAt
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}

func compareEntries(a, b entry) int {
	switch {
	case ranksAbove(a.row, b.row):
		return -1
	case ranksAbove(b.row, a.row):
		return 1
	}
	return 0
}

func rowOf(p *Player) Row {
	if p.removed.Load() {
		return Row{ID: p.ID} // best 0: a removed player is never on the board
	}
	return Row{ID: p.ID, Handle: p.Handle(), Best: p.best.Load(), BestAt: p.bestAt.Load()}
}

// Tick folds the players that changed since the last tick into the leaderboard. Its
// cost grows with the number of changed players, not with the number of players. It
// reports false when the board did not change.
func (e *Engine) Tick() (Update, bool) {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	if e.rebuild.Swap(false) {
		return e.tickRebuild() // a moderator lowered or removed a best: see admin.go
	}
	b := &e.board

	changed := b.changed[:0]
	for i := range e.lanes {
		p := e.lanes[i].changed.Swap(nil)
		for p != nil {
			next := p.next
			p.next = nil
			// Clear the flag only after reading next: from here on a click may queue p
			// again, which rewrites p.next.
			p.queued.Store(false)
			changed = append(changed, p)
			p = next
		}
	}
	b.changed = changed
	if len(changed) == 0 {
		return Update{}, false
	}

	clear(b.inChanged)
	for _, p := range changed {
		b.inChanged[p] = false
	}
	cand := b.cand[:0]
	for i, p := range b.players {
		if _, ok := b.inChanged[p]; ok {
			b.inChanged[p] = true // changed and on the board: re-ranked below
			continue
		}
		cand = append(cand, entry{p, b.rows[i]})
	}
	kept := len(cand)
	for _, p := range changed {
		r := rowOf(p)
		if r.Best == 0 {
			continue
		}
		// A player who cannot beat the current last row of a full board is skipped
		// before sorting; it cannot be on the new board.
		if len(b.rows) == b.size && !ranksAbove(r, b.rows[len(b.rows)-1]) && !b.inChanged[p] {
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
	if slices.EqualFunc(cand, b.rows, func(c entry, r Row) bool { return c.row == r }) {
		// Changed players on the board kept their rows (a rename to the same handle).
		return Update{}, false
	}
	return e.publish(cand), true
}

// publish makes cand the board and computes what changed. Called under tickMu.
func (e *Engine) publish(cand []entry) Update {
	b := &e.board
	clear(b.old)
	for i, p := range b.players {
		b.old[p] = b.rows[i]
	}
	u := Update{Rows: make([]Row, len(cand))}
	players := make([]*Player, len(cand))
	for i, c := range cand {
		u.Rows[i] = c.row
		players[i] = c.p
		old, ok := b.old[c.p]
		if !ok || old != c.row {
			u.Changed = append(u.Changed, i)
		}
		delete(b.old, c.p)
	}
	for p := range b.old {
		u.Dropped = append(u.Dropped, p.ID)
	}
	b.seq++
	u.Seq = b.seq
	b.players, b.rows = players, u.Rows
	if len(u.Rows) == b.size {
		e.threshold.Store(u.Rows[len(u.Rows)-1].Best)
	} else {
		e.threshold.Store(1)
	}
	return u
}

// Board returns the current leaderboard.
func (e *Engine) Board() Update {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	return Update{Seq: e.board.seq, Rows: e.board.rows}
}

// Rebuild recomputes the leaderboard from every player. It costs a pass over all
// players, so it is for start-up and for rare changes that can lower a best.
func (e *Engine) Rebuild() Update {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	return e.publish(e.scanTop())
}

// scanTop returns the board's rows computed from every player. Called under tickMu.
func (e *Engine) scanTop() []entry {
	b := &e.board
	// A bounded selection: keep the best b.size entries seen so far, sorted.
	top := make([]entry, 0, b.size+1)
	e.store.Range(func(p *Player) bool {
		r := rowOf(p)
		if r.Best == 0 {
			return true
		}
		if len(top) == b.size && !ranksAbove(r, top[len(top)-1].row) {
			return true
		}
		i, _ := slices.BinarySearchFunc(top, entry{p, r}, compareEntries)
		top = slices.Insert(top, i, entry{p, r})
		if len(top) > b.size {
			top = top[:b.size]
		}
		return true
	})
	return top
}
