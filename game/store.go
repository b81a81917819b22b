package game

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
)

// Store is the registry of players the Engine runs on. Memory is the only
// implementation today; the interface is the seam where a shared, multi-node backend
// will plug in.
type Store interface {
	// Get returns the player with id, or nil. It must not block and must not allocate.
	Get(id uuid.UUID) *Player
	// Add inserts p unless a player with the same id exists, and returns the stored one.
	Add(p *Player) (stored *Player, added bool)
	// Remove takes the player with id out of the store and returns it, or nil when
	// there is none. Readers that are running meanwhile may still find it.
	Remove(id uuid.UUID) *Player
	// Range calls fn for every player until fn returns false.
	Range(fn func(*Player) bool)
	// Len returns the number of players.
	Len() int
}

const (
	shardBits  = 6
	shardCount = 1 << shardBits
	minTable   = 16
)

// Memory is a sharded, open-addressing hash table of players. Readers never lock: each
// shard publishes an immutable-capacity table through an atomic pointer and slots are
// filled with atomic stores. Writers (new players, which are rare next to clicks) take
// the shard's mutex, never a global one.
type Memory struct {
	shards [shardCount]shard
}

type shard struct {
	mu    sync.Mutex // serialises writers of this shard only
	table atomic.Pointer[table]
	n     atomic.Int64 // players in table; written under mu
}

type table struct {
	slots []atomic.Pointer[Player]
	mask  uint64
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	m := &Memory{}
	for i := range m.shards {
		m.shards[i].table.Store(newTable(minTable))
	}
	return m
}

func newTable(size int) *table {
	return &table{slots: make([]atomic.Pointer[Player], size), mask: uint64(size - 1)}
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

func (m *Memory) shardOf(h uint64) *shard { return &m.shards[h>>(64-shardBits)] }

// Get implements Store.
func (m *Memory) Get(id uuid.UUID) *Player {
	h := hash(id)
	t := m.shardOf(h).table.Load()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		p := t.slots[i].Load()
		if p == nil || p.ID == id {
			return p
		}
	}
}

// Add implements Store.
func (m *Memory) Add(p *Player) (*Player, bool) {
	h := hash(p.ID)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.table.Load()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		q := t.slots[i].Load()
		if q == nil {
			break
		}
		if q.ID == p.ID {
			return q, false
		}
	}
	if (int(s.n.Load())+1)*2 > len(t.slots) {
		t = s.grow(t)
	}
	t.insert(p)
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
func (t *table) insert(p *Player) {
	for i := hash(p.ID) & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == nil {
			t.slots[i].Store(p)
			return
		}
	}
}

// copyWithout returns a new table of the given size holding every player of t except
// skip (nil skips nobody).
func (t *table) copyWithout(size int, skip *Player) *table {
	c := newTable(size)
	for i := range t.slots {
		if p := t.slots[i].Load(); p != nil && p != skip {
			c.insert(p)
		}
	}
	return c
}

// Range implements Store.
func (m *Memory) Range(fn func(*Player) bool) {
	for i := range m.shards {
		t := m.shards[i].table.Load()
		for j := range t.slots {
			if p := t.slots[j].Load(); p != nil && !fn(p) {
				return
			}
		}
	}
}

// Len implements Store.
func (m *Memory) Len() int {
	n := int64(0)
	for i := range m.shards {
		n += m.shards[i].n.Load()
	}
	return int(n)
}

// String describes the store for logs.
func (m *Memory) String() string { return fmt.Sprintf("memory store, %d shards", shardCount) }
