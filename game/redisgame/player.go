package redisgame

import (
	"sync"
	"sync/atomic"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
)

// player is this node's handle on one player: what the sockets and requests hold. The
// numbers themselves live in Redis; the node keeps the latest copy it saw, so that the
// broadcast loop reads a player's state without a round trip.
//
// All of a player's sockets on one node share one copy (an entry): a click through one
// tab shows in the others at the next tick, as in memory.
type player struct {
	id      uuid.UUID
	idText  string
	keys    partKeys
	key     string // the player's hash
	flipped string // the id part of its board member
	// clickKeys are the click script's keys, made once: rueidis copies them into each
	// command, so every click of every tab can pass the same slice.
	clickKeys []string
	entry     atomic.Pointer[entry]
}

// entry is the shared copy of one player's stored fields on this node.
type entry struct {
	cached  atomic.Pointer[cached]
	removed atomic.Bool
	conns   int // sockets on this node; guarded by registry.mu
	// repaired is when Ranks last read the player's rank entry from its partition
	// (Unix ns; 0: not yet on this node).
	repaired atomic.Int64
}

// cached is one reading of a player's fields, taken from a script's reply.
type cached struct {
	view   game.View // times in Unix ns
	bestAt int64     // Unix ns
	q      int64     // the player's change counter: a higher q is a later reading
	nodes  int64     // nodes holding a socket of the player, as Redis last knew
}

func (p *player) ID() uuid.UUID { return p.id }

func (p *player) Handle() string { return p.entry.Load().cached.Load().view.Handle }

func (p *player) Removed() bool { return p.entry.Load().removed.Load() }

func (p *player) view() cached { return *p.entry.Load().cached.Load() }

// expectedMember is the board member of the player as this node's copy has it, empty
// when the copy has no best (not ranked, as far as the node knows).
func (p *player) expectedMember() string {
	c := p.entry.Load().cached.Load()
	if c == nil || c.view.Best <= 0 {
		return ""
	}
	return boardMember(c.bestAt/1000, p.flipped, c.view.Handle)
}

// update keeps c if it is a later reading than the one held. Replies to one player's
// scripts can come back out of order over several connections; the change counter
// puts them back in order.
func (e *entry) update(c *cached) {
	for {
		old := e.cached.Load()
		if old != nil && old.q > c.q {
			return
		}
		if e.cached.CompareAndSwap(old, c) {
			return
		}
	}
}

// registry holds the entries of the players with a socket on this node, so that their
// tabs share one copy and the node can refresh it when another node changes them.
type registry struct {
	mu      sync.Mutex
	entries map[uuid.UUID]*entry
	online  atomic.Int64 // players with a socket on this node
}

func newRegistry() *registry { return &registry{entries: make(map[uuid.UUID]*entry)} }

// lookup returns the registered entry of id, or nil.
func (r *registry) lookup(id uuid.UUID) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.entries[id]
}

// attach counts a socket of p and binds p to the registered entry, registering p's own
// when it is the first. It reports whether this is the player's first socket here.
func (r *registry) attach(p *player) (first bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mine := p.entry.Load()
	e, ok := r.entries[p.id]
	if !ok {
		e = mine
		r.entries[p.id] = e
		r.online.Add(1)
	} else if e != mine {
		e.update(mine.cached.Load())
		if mine.removed.Load() {
			e.removed.Store(true)
		}
		p.entry.Store(e)
	}
	e.conns++
	return e.conns == 1
}

// detach is the counterpart of attach; it reports whether that was the last socket.
func (r *registry) detach(p *player) (last bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := p.entry.Load()
	if e.conns--; e.conns > 0 {
		return false
	}
	if r.entries[p.id] == e {
		delete(r.entries, p.id)
		r.online.Add(-1)
	}
	return true
}

// ids returns the players registered on this node.
func (r *registry) ids() []uuid.UUID {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]uuid.UUID, 0, len(r.entries))
	for id := range r.entries {
		out = append(out, id)
	}
	return out
}
