package game

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
)

const (
	shardBits  = 6
	shardCount = 1 << shardBits
	minTable   = 16
)

// memStore is the in-memory Engine's registry of players: a sharded, open-addressing
// hash table. Readers never lock: each shard publishes an immutable-capacity table
// through an atomic pointer and slots are filled with atomic stores. Writers (new
// players, which are rare next to clicks) take the shard's mutex, never a global one.
type memStore struct {
	shards [shardCount]shard
}

type shard struct {
	mu    sync.Mutex // serialises writers of this shard only
	table atomic.Pointer[table]
	n     atomic.Int64 // players in table; written under mu
}

type table struct {
	slots []atomic.Pointer[memPlayer]
	mask  uint64
}

func newMemStore() *memStore {
	m := &memStore{}
	for i := range m.shards {
		m.shards[i].table.Store(newTable(minTable))
	}
	return m
}

func newTable(size int) *table {
	return &table{slots: make([]atomic.Pointer[memPlayer], size), mask: uint64(size - 1)}
}

// hash mixes both halves of the id through splitmix64's finaliser, so ids that are not
// random (a hand-edited snapshot, tests) still spread over shards and slots.
func hash(id uuid.UUID) uint64 {
	return mix64(binary.LittleEndian.Uint64(id[0:8]) ^ mix64(binary.LittleEndian.Uint64(id[8:16])))
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}

func (m *memStore) shardOf(h uint64) *shard { return &m.shards[h>>(64-shardBits)] }

// Get returns the player with id, or nil. It never blocks and never allocates.
func (m *memStore) Get(id uuid.UUID) *memPlayer {
	h := hash(id)
	t := m.shardOf(h).table.Load()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		p := t.slots[i].Load()
		if p == nil || p.id == id {
			return p
		}
	}
}

// Add inserts p unless a player with the same id exists, and returns the stored one.
func (m *memStore) Add(p *memPlayer) (*memPlayer, bool) {
	h := hash(p.id)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.table.Load()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		q := t.slots[i].Load()
		if q == nil {
			break
		}
		if q.id == p.id {
			return q, false
		}
	}
	if (int(s.n.Load())+1)*2 > len(t.slots) {
		t = s.grow(t)
	}
	t.insertAt(p, h)
	s.n.Add(1)
	return p, true
}

// grow copies the table into one twice the size and publishes it. Readers holding the
// old table still find every player that was in it.
func (s *shard) grow(old *table) *table {
	t := old.copyWithout(len(old.slots)*2, nil)
	s.table.Store(t)
	return t
}

// insert puts p in the first free slot of its probe chain. Call with the shard's mutex
// held, on a table with a free slot.
func (t *table) insert(p *memPlayer) { t.insertAt(p, hash(p.id)) }

// insertAt is insert of p whose id hashes to h.
func (t *table) insertAt(p *memPlayer, h uint64) {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == nil {
			t.slots[i].Store(p)
			return
		}
	}
}

// copyWithout returns a new table of the given size holding every player of t except
// skip (nil skips nobody).
func (t *table) copyWithout(size int, skip *memPlayer) *table {
	c := newTable(size)
	for i := range t.slots {
		if p := t.slots[i].Load(); p != nil && p != skip {
			c.insert(p)
		}
	}
	return c
}

// reserve grows every shard's table, once, to hold n more players spread evenly over
// the shards (with room for the spread of random ids), so that loading them does not
// copy the tables again and again. It leaves the table at most a quarter full, not
// half as Add does: each occupied slot an insert probes reads a player elsewhere in
// memory to compare ids, and at a quarter there are about a third as many.
func (m *memStore) reserve(n int) {
	per := n / shardCount
	per += 4*isqrt(per) + minTable // four standard deviations of a binomial spread
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		t := s.table.Load()
		size := len(t.slots)
		for (int(s.n.Load())+per)*4 > size {
			size *= 2
		}
		if size > len(t.slots) {
			s.table.Store(t.copyWithout(size, nil))
		}
		s.mu.Unlock()
	}
}

func isqrt(n int) int {
	r := 0
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// rangeShard calls fn for every player of shard i until fn returns false.
func (m *memStore) rangeShard(i int, fn func(*memPlayer) bool) {
	t := m.shards[i].table.Load()
	for j := range t.slots {
		if p := t.slots[j].Load(); p != nil && !fn(p) {
			return
		}
	}
}

// Range calls fn for every player until fn returns false.
func (m *memStore) Range(fn func(*memPlayer) bool) {
	for i := range m.shards {
		t := m.shards[i].table.Load()
		for j := range t.slots {
			if p := t.slots[j].Load(); p != nil && !fn(p) {
				return
			}
		}
	}
}

// Len returns the number of players.
func (m *memStore) Len() int {
	n := int64(0)
	for i := range m.shards {
		n += m.shards[i].n.Load()
	}
	return int(n)
}
