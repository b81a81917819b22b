package game

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// climb gives p n counted clicks, each at least a throttle window apart.
func climb(tb testing.TB, e *Engine, p *memPlayer, n int, start time.Time) {
	tb.Helper()
	for i := range n {
		mustClick(tb, e, p, start.Add(time.Duration(i)*time.Second))
	}
}

func mustTick(t *testing.T, e *Engine, prev Update) Update {
	t.Helper()
	u, ok := e.tick()
	if !ok {
		t.Fatal("Tick reported no change")
	}
	checkUpdate(t, e, prev, u, e.cfg.BoardSize)
	return u
}

func TestMemoryRemove(t *testing.T) {
	m := newMemStore()
	e := newEngine(t, nil)
	const n = 2000 // many per shard, so probe chains cross removed slots
	var ps []*memPlayer
	for i := range n {
		p, added := m.Add(e.newPlayer(idN(uint64(i+1)), "p"))
		if !added {
			t.Fatal("duplicate")
		}
		ps = append(ps, p)
	}
	removed := map[uuid.UUID]bool{}
	for i, p := range ps {
		if i%3 == 0 {
			if got := m.Remove(p.id); got != p {
				t.Fatalf("Remove(%s) = %p, want %p", p.id, got, p)
			}
			removed[p.id] = true
		}
	}
	if got := m.Remove(ps[0].id); got != nil {
		t.Fatal("second Remove of the same id found a player")
	}
	if got := m.Remove(idN(1 << 40)); got != nil {
		t.Fatal("Remove of an unknown id found a player")
	}
	for _, p := range ps {
		got := m.Get(p.id)
		if removed[p.id] && got != nil || !removed[p.id] && got != p {
			t.Fatalf("Get(%s) = %p after removals (removed %v)", p.id, got, removed[p.id])
		}
	}
	if want := n - len(removed); m.Len() != want {
		t.Fatalf("Len %d, want %d", m.Len(), want)
	}
	seen := 0
	m.Range(func(p *memPlayer) bool {
		if removed[p.id] {
			t.Fatalf("Range visits removed %s", p.id)
		}
		seen++
		return true
	})
	if seen != m.Len() {
		t.Fatalf("Range saw %d, Len %d", seen, m.Len())
	}
	// The id can be used again.
	again := e.newPlayer(ps[0].id, "back")
	if got, added := m.Add(again); !added || got != again || m.Get(ps[0].id) != again {
		t.Fatal("re-adding a removed id failed")
	}
}

// TestMemoryRemoveConcurrentReaders: lock-free readers keep finding every player that
// is not removed while other players of the same shards are removed and added.
func TestMemoryRemoveConcurrentReaders(t *testing.T) {
	m := newMemStore()
	e := newEngine(t, nil)
	const n = 2000
	stay := make([]*memPlayer, n)
	for i := range stay {
		stay[i], _ = m.Add(e.newPlayer(idN(uint64(2*i+1)), "stay"))
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for !stop.Load() {
				p := stay[rng.IntN(n)]
				if m.Get(p.id) != p {
					t.Errorf("reader lost %s", p.id)
					return
				}
			}
		}()
	}
	for round := range 5 {
		var churn []uuid.UUID
		for i := range 200 {
			id := idN(uint64(2*(round*200+i) + 2))
			m.Add(e.newPlayer(id, "churn"))
			churn = append(churn, id)
		}
		for _, id := range churn {
			if m.Remove(id) == nil {
				t.Fatalf("churn %s not found", id)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if m.Len() != n {
		t.Fatalf("Len %d, want %d", m.Len(), n)
	}
}

func TestResetLeavesBoardAtNextTick(t *testing.T) {
	e := newEngine(t, nil)
	a, b, c := join(t, e, "a"), join(t, e, "b"), join(t, e, "c")
	climb(t, e, a, 5, at(0))
	climb(t, e, b, 3, at(0))
	climb(t, e, c, 1, at(0))
	prev := mustTick(t, e, Update{})
	v, clicks := e.version(), e.Stats().TotalClicks

	e.reset(b)
	if e.version() == v {
		t.Fatal("Reset did not change Version: the snapshot would miss it")
	}
	u := mustTick(t, e, prev)
	if !slices.Equal(u.Dropped, []uuid.UUID{b.id}) || len(u.Rows) != 2 {
		t.Fatalf("after reset: rows %v dropped %v", u.Rows, u.Dropped)
	}
	if _, ok := e.tick(); ok {
		t.Fatal("a second tick after the reset published again")
	}
	info := e.info(b, at(10*time.Second))
	if info.Score != 0 || info.Best != 0 || info.Total != 3 || !info.BestAt.IsZero() || info.Handle != "b" {
		t.Fatalf("after reset: %+v", info)
	}
	if got := e.Stats().TotalClicks; got != clicks {
		t.Fatalf("reset changed total clicks: %d, want %d", got, clicks)
	}
	// The snapshot has the zeros and loads back.
	snap := snapshot(t, e, at(10*time.Second))
	if !bytes.Contains(snap, []byte(b.id.String()+",b,0,0,3,")) {
		t.Fatalf("snapshot lacks the reset row:\n%s", snap)
	}
	e2 := newEngine(t, nil)
	if _, err := readSnapshot(bytes.NewReader(snap), "scores.csv", e2); err != nil {
		t.Fatal(err)
	}
	// The player plays on from 0 and comes back.
	mustClick(t, e, b, at(time.Minute))
	u = mustTick(t, e, u)
	if r := u.Rows[len(u.Rows)-1]; r.ID != b.id || r.Best != 1 {
		t.Fatalf("after playing on: %v", u.Rows)
	}
}

func TestResetOffBoardPublishesNothing(t *testing.T) {
	e := newEngine(t, nil)
	a := join(t, e, "a")
	idle := join(t, e, "idle")
	climb(t, e, a, 2, at(0))
	e.tick()
	e.reset(idle) // best was 0 already: the rebuild finds the same board
	if u, ok := e.tick(); ok {
		t.Fatalf("reset of a player off the board published %+v", u)
	}
}

func TestRemoveLeavesBoardAndRefills(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.BoardSize = 3 })
	var ps []*memPlayer
	for i, n := range []int{9, 7, 5, 3, 2} {
		p := join(t, e, fmt.Sprintf("p%d", i))
		climb(t, e, p, n, at(0))
		ps = append(ps, p)
	}
	prev := mustTick(t, e, Update{})
	stats, v := e.Stats(), e.version()

	if got := e.remove(ps[0].id); got != ps[0] {
		t.Fatalf("Remove returned %p, want %p", got, ps[0])
	}
	if e.remove(ps[0].id) != nil {
		t.Fatal("removing twice found the player again")
	}
	if e.version() == v {
		t.Fatal("Remove did not change Version")
	}
	after := e.Stats()
	if after.Players != stats.Players-1 || after.TotalClicks != stats.TotalClicks-9 {
		t.Fatalf("stats after remove %+v, before %+v", after, stats)
	}
	u := mustTick(t, e, prev) // checks the delta and the board against the oracle
	if !slices.Equal(u.Dropped, []uuid.UUID{ps[0].id}) || u.Rows[2].ID != ps[3].id {
		t.Fatalf("after remove: rows %v dropped %v", u.Rows, u.Dropped)
	}
	if e.get(ps[0].id) != nil {
		t.Fatal("removed player still found")
	}

	// A socket still holding the removed player clicks: nothing counts, and the player
	// never comes back to the board, even if it was queued.
	orphan := ps[0]
	if r := e.click(orphan, at(time.Hour)); r.Counted {
		t.Fatal("a removed player's click counted")
	}
	e.queue(orphan)
	if _, ok := e.tick(); ok {
		t.Fatal("a removed player's queued change published an update")
	}
	if e.Stats().TotalClicks != after.TotalClicks {
		t.Fatal("a removed player's click changed the total")
	}
	snap := snapshot(t, e, at(time.Hour))
	if bytes.Contains(snap, []byte(orphan.id.String())) {
		t.Fatalf("snapshot still has the removed player:\n%s", snap)
	}
	// The same id restored (its cookie) is a fresh player.
	back := restore(t, e, orphan.id, "p0")
	if back == orphan || e.info(back, at(time.Hour)).Total != 0 {
		t.Fatal("restore after remove did not give a fresh player")
	}
}

func TestRemoveWhileOnlineKeepsOnlineCount(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "p")
	e.attach(p, at(0))
	if !e.info(p, at(0)).Online {
		t.Fatal("attached player not online")
	}
	e.remove(p.id)
	e.detach(p, at(time.Second)) // the socket closes after the removal
	if got := e.Stats().Online; got != 0 {
		t.Fatalf("online %d after the removed player's socket closed", got)
	}
}

func TestRenameReachesBoard(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "rude")
	climb(t, e, p, 2, at(0))
	prev := mustTick(t, e, Update{})
	if _, err := e.rename(p, "<nope>"); err == nil {
		t.Fatal("bad handle accepted")
	}
	if _, err := e.rename(p, "polite"); err != nil {
		t.Fatal(err)
	}
	u := mustTick(t, e, prev)
	if len(u.Changed) != 1 || u.Rows[0].Handle != "polite" {
		t.Fatalf("rename delta %+v", u)
	}
}

func TestInfo(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "info")
	if i := e.info(p, at(0)); i.ID != p.id || i.Handle != "info" || !i.LastClick.IsZero() || i.Online || i.Best != 0 {
		t.Fatalf("fresh %+v", i)
	}
	climb(t, e, p, 3, at(0))
	i := e.info(p, at(3*time.Second))
	if i.Score != 3 || i.Best != 3 || i.Total != 3 || !i.LastClick.Equal(at(2*time.Second)) {
		t.Fatalf("after clicks %+v", i)
	}
	if i := e.info(p, at(time.Hour)); i.Score != 0 || i.Best != 3 {
		t.Fatalf("idle %+v, want score 0 best 3", i)
	}
}

func TestFind(t *testing.T) {
	e := newEngine(t, nil)
	want := []*memPlayer{} // in board order
	for i := range 150 {
		p := join(t, e, fmt.Sprintf("player %03d", i))
		climb(t, e, p, i%7, at(time.Duration(i)*time.Minute))
		want = append(want, p)
	}
	rank := func(p *memPlayer) Row { return Row{ID: p.id, Best: p.best.Load(), BestAt: p.bestAt.Load()} }
	slices.SortFunc(want, func(a, b *memPlayer) int { return compareEntries(entry{a, rank(a)}, entry{b, rank(b)}) })

	cases := []struct {
		name          string
		match         func(*memPlayer) bool
		offset, limit int
		wantLen, all  int
	}{
		{"first page", nil, 0, 50, 50, 150},
		{"one row deep in", nil, 97, 1, 1, 150},
		{"middle page", nil, 70, 50, 50, 150},
		{"last page", nil, 120, 50, 30, 150},
		{"past the end", nil, 150, 50, 0, 150},
		{"count only", nil, 0, 0, 0, 150},
		{"huge offset", nil, 1 << 62, 500, 0, 150},
		{"filtered", func(p *memPlayer) bool { return strings.HasSuffix(p.Handle(), "7") }, 0, 500, 15, 15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page, all := e.find(c.match, c.offset, c.limit)
			if len(page) != c.wantLen || all != c.all {
				t.Fatalf("got %d of %d, want %d of %d", len(page), all, c.wantLen, c.all)
			}
			if c.match != nil {
				for _, p := range page {
					if !c.match(p) {
						t.Fatalf("%q does not match", p.Handle())
					}
				}
				return
			}
			if !slices.Equal(page, want[min(c.offset, len(want)):min(c.offset, len(want))+len(page)]) {
				t.Fatal("page is not the board order")
			}
		})
	}
}

// TestConcurrentClicksDuringRemove: clicks, ticks, resets and removals all at once,
// under -race. Afterwards the board equals the brute-force one, holds no removed
// player, and the store and the totals agree.
func TestConcurrentClicksDuringRemove(t *testing.T) {
	e := newEngine(t, func(c *Config) {
		c.BoardSize = 20
		c.ThrottleLimit = 1 << 20
	})
	const n = 200
	ps := make([]*memPlayer, n)
	for i := range ps {
		ps[i] = join(t, e, fmt.Sprintf("p%d", i))
	}
	var stop atomic.Bool
	var clickers, ticker sync.WaitGroup
	for w := range 8 {
		clickers.Add(1)
		go func() {
			defer clickers.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for i := 0; !stop.Load() || i < 2000; i++ {
				e.click(ps[rng.IntN(n)], time.Now())
				if i > 100000 {
					return
				}
			}
		}()
	}
	ticker.Add(1)
	go func() {
		defer ticker.Done()
		for !stop.Load() {
			e.tick()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	removed := map[uuid.UUID]bool{}
	for i := 0; i < n; i += 4 {
		time.Sleep(50 * time.Microsecond)
		if e.remove(ps[i].id) == nil {
			t.Fatalf("Remove(%d) found nothing", i)
		}
		removed[ps[i].id] = true
		e.reset(ps[i+1])
	}
	stop.Store(true)
	clickers.Wait()
	ticker.Wait()

	e.tick() // the last rebuild or changes
	e.tick()
	b := e.Board()
	if want := oracle(e, 20); !equalRows(b.Rows, want) {
		t.Fatalf("board\n%v\nwant\n%v", b.Rows, want)
	}
	for _, r := range b.Rows {
		if removed[r.ID] {
			t.Fatalf("removed %s is on the board", r.ID)
		}
	}
	if got := e.Stats().Players; got != int64(n-len(removed)) {
		t.Fatalf("players %d, want %d", got, n-len(removed))
	}
	var total int64
	e.records(time.Now(), func(r Record) error {
		if removed[r.ID] {
			t.Fatalf("snapshot record for removed %s", r.ID)
		}
		total += r.Total
		return nil
	})
	// Clicks that raced a removal may be off by a few; nothing more.
	if got := e.Stats().TotalClicks; got < total || got > total+int64(len(removed))*8 {
		t.Fatalf("total clicks %d, players' totals sum to %d", got, total)
	}
}
