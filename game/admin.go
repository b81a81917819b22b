package game

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// Moderation: what an admin may see of and do to one player. These are rare actions,
// so they may cost a pass over a shard or over every player; clicks never wait for them.
//
// Reset and Remove can lower a best, which the changed lists behind Tick cannot show
// (they only ever see players rise). Both therefore ask for a full recompute, which the
// next Tick performs and publishes as an ordinary Update: whoever broadcasts the
// result of Tick (the server's hub) sends it like any other delta, in sequence.

// PlayerInfo is what a moderator sees of one player.
type PlayerInfo struct {
	Record
	// Online is true while the player has an open socket.
	Online bool
	// HandleLocked is true when a moderator set the handle.
	HandleLocked bool
	// Banned is the ban on the player, if any.
	Banned *Ban
	// Suspect is the bot detection's evidence, when it flagged the player.
	Suspect *Suspect
}

// info returns p's stored fields as of now (the idle reset applied, as in a snapshot)
// and whether p is online.
func (e *Engine) info(p *memPlayer, now time.Time) PlayerInfo {
	info := PlayerInfo{Record: e.record(p, now.UnixNano()), Online: p.conns.Load() > 0, HandleLocked: p.locked.Load()}
	if b, ok := e.bans()[p.id]; ok {
		info.Banned = &b
	}
	if s, ok := p.bots.suspect(); ok {
		info.Suspect = &s
	}
	return info
}

// reset sets p's score and best to 0 and keeps the lifetime total, so p leaves the
// board at the next Tick and the next snapshot stores the zeros. p may play on and
// climb again from 0. A click in flight at the very instant of the reset may still
// land on top of it.
func (e *Engine) reset(p *memPlayer) {
	// score before best, so that a reader never sees score above best.
	p.score.Store(0)
	p.best.Store(0)
	p.bestAt.Store(0)
	p.lane.edits.Add(1)
	e.rebuild.Store(true)
	e.queueRank(p) // and its place in the rank index
}

// remove takes the player with id out of the game and returns it, or nil when there is
// none. The player leaves the board at the next Tick and the next snapshot; its clicks
// leave the total. Whoever still holds the *memPlayer (an open socket) may keep using it
// harmlessly: its clicks no longer count and it never returns to the board. Restore
// with the same id later creates a fresh player with no score.
func (e *Engine) remove(id uuid.UUID) *memPlayer {
	p := e.store.Remove(id)
	if p == nil {
		return nil
	}
	p.removed.Store(true)
	// A click that passed the removed check just before may still count after this
	// read; such a click is lost to TotalClicks' bookkeeping, which is harmless.
	e.forgotten.Add(p.total.Load())
	p.lane.edits.Add(1)
	e.rebuild.Store(true)
	e.queueRank(p) // and its place in the rank index
	return p
}

// tickRebuild recomputes the board from every player, as Rebuild does, on behalf of
// Tick. It publishes only when the board changed. Called under tickMu.
func (e *Engine) tickRebuild() (Update, bool) {
	// Until the new board is published, every rise queues its player: a click whose
	// new best the scan below missed then still reaches the next Tick, even if the
	// rebuild lowers the threshold it had read.
	e.threshold.Store(1)
	u, changed := e.publish(e.scanTop(), false)
	if !changed {
		e.restoreThreshold()
	}
	return u, changed
}

// find returns the players for which match is true (all of them when match is nil),
// ranked as the board ranks them (best first, then who reached it first, then id),
// skipping the first offset and returning at most limit; and how many matched in all.
// It is a full scan of the store, for moderation; its memory follows offset+limit,
// not the number of players.
func (e *Engine) find(match func(*memPlayer) bool, offset, limit int) (page []*memPlayer, matched int) {
	const most = 1 << 30 // more players than one node holds; keeps the sums below from overflowing
	offset, limit = min(max(offset, 0), most), min(max(limit, 0), most)
	keep := offset + limit
	// A bounded selection: collect, and whenever twice as many as needed piled up,
	// sort and cut back to keep. Once keep are held, a player ranked below the last of
	// them is skipped at once. Amortised O(n log keep).
	var sel []entry
	var cutoff Row // the last row kept by the latest trim, once keep rows are held
	full := false
	trim := func() {
		slices.SortFunc(sel, compareEntries)
		if keep > 0 && len(sel) >= keep {
			clear(sel[keep:])
			sel = sel[:keep]
			cutoff, full = sel[keep-1].row, true
		}
	}
	e.store.Range(func(p *memPlayer) bool {
		if match != nil && !match(p) {
			return true
		}
		matched++
		if keep == 0 {
			return true
		}
		// The board's order; the handle plays no part in it, so it is not read here.
		r := Row{ID: p.id, Best: p.best.Load(), BestAt: p.bestAt.Load()}
		if full && !RanksAbove(r, cutoff) {
			return true
		}
		sel = append(sel, entry{p, r})
		if len(sel) >= max(2*keep, 64) {
			trim()
		}
		return true
	})
	trim()
	if offset >= len(sel) {
		return nil, matched
	}
	sel = sel[offset:]
	page = make([]*memPlayer, len(sel))
	for i, c := range sel {
		page[i] = c.p
	}
	return page, matched
}

// Remove takes the player with id out of the store and returns it, or nil when there
// is none. Readers never lock, so a slot cannot simply be emptied: that
// would cut the probe chain of every player stored after it. Instead the shard's table
// is copied without the player, under the shard's mutex, and published at once;
// readers holding the old table still find everyone, the removed player included. It
// costs a pass over one shard, which is fine for a rare moderation action.
func (m *memStore) Remove(id uuid.UUID) *memPlayer {
	h := hash(id)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.table.Load()
	var found *memPlayer
	for i := h & old.mask; ; i = (i + 1) & old.mask {
		q := old.slots[i].Load()
		if q == nil {
			return nil
		}
		if q.id == id {
			found = q
			break
		}
	}
	s.table.Store(old.copyWithout(len(old.slots), found))
	s.n.Add(-1)
	return found
}

// restoreThreshold sets the threshold from the current board, as publish does.
// Called under tickMu.
func (e *Engine) restoreThreshold() {
	if rows := e.board.pub.rows; len(rows) == e.board.size {
		e.threshold.Store(rows[len(rows)-1].Best)
	} else {
		e.threshold.Store(1)
	}
}
