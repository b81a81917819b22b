package game

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// oracle is the brute-force leaderboard: every player with a best, sorted by best
// (highest first), then by who reached it first, then by id; the first n.
func oracle(e *Engine, n int) []Row {
	var rows []Row
	e.records(t0, func(r Record) error {
		if r.Best > 0 {
			rows = append(rows, Row{ID: r.ID, Handle: r.Handle, Best: r.Best, BestAt: r.BestAt.UnixNano()})
		}
		return nil
	})
	slices.SortFunc(rows, func(a, b Row) int {
		switch {
		case a.Best != b.Best:
			if a.Best > b.Best {
				return -1
			}
			return 1
		case a.BestAt != b.BestAt:
			if a.BestAt < b.BestAt {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	if len(rows) > n {
		rows = rows[:n]
	}
	return rows
}

func equalRows(a, b []Row) bool { return slices.Equal(a, b) }

// applyDelta applies u to prev as docs/protocol.md tells a client to: remove every row
// whose id is in Changed or Dropped, insert the Changed rows in ascending index order at
// their index, cut to the board's length.
func applyDelta(prev []Row, u Update) ([]Row, error) {
	if !slices.IsSorted(u.Changed) {
		return nil, fmt.Errorf("Changed %v is not ascending", u.Changed)
	}
	remove := map[uuid.UUID]bool{}
	for _, i := range u.Changed {
		if i < 0 || i >= len(u.Rows) {
			return nil, fmt.Errorf("Changed index %d out of range", i)
		}
		remove[u.Rows[i].ID] = true
	}
	for _, id := range u.Dropped {
		remove[id] = true
	}
	var out []Row
	for _, r := range prev {
		if !remove[r.ID] {
			out = append(out, r)
		}
	}
	for _, i := range u.Changed {
		if i > len(out) {
			return nil, fmt.Errorf("cannot insert row %d into %d rows", i, len(out))
		}
		out = slices.Insert(out, i, u.Rows[i])
	}
	if len(out) > len(u.Rows) {
		out = out[:len(u.Rows)]
	}
	return out, nil
}

// checkUpdate checks u against the previous board and the oracle.
func checkUpdate(t *testing.T, e *Engine, prev Update, u Update, size int) {
	t.Helper()
	want := oracle(e, size)
	if !equalRows(u.Rows, want) {
		t.Fatalf("seq %d: board\n%v\nwant\n%v", u.Seq, u.Rows, want)
	}
	if u.Seq != prev.Seq+1 {
		t.Fatalf("seq %d after %d", u.Seq, prev.Seq)
	}
	got, err := applyDelta(prev.Rows, u)
	if err != nil {
		t.Fatalf("seq %d: %v", u.Seq, err)
	}
	if !equalRows(got, u.Rows) {
		t.Fatalf("seq %d: applying the delta gives\n%v\nwant\n%v\n(changed %v, dropped %v)", u.Seq, got, u.Rows, u.Changed, u.Dropped)
	}
	// The delta is minimal: Changed lists only new or different rows, Dropped only
	// players that left.
	old := map[uuid.UUID]Row{}
	for _, r := range prev.Rows {
		old[r.ID] = r
	}
	now := map[uuid.UUID]bool{}
	for _, r := range u.Rows {
		now[r.ID] = true
	}
	for _, i := range u.Changed {
		if r, ok := old[u.Rows[i].ID]; ok && r == u.Rows[i] {
			t.Fatalf("seq %d: row %d %v listed as changed but is the same", u.Seq, i, r)
		}
	}
	if len(u.Changed) > 0 && len(slices.Compact(slices.Clone(u.Changed))) != len(u.Changed) {
		t.Fatalf("seq %d: Changed %v has duplicates", u.Seq, u.Changed)
	}
	dropped := map[uuid.UUID]bool{}
	for _, id := range u.Dropped {
		if now[id] || dropped[id] {
			t.Fatalf("seq %d: %s dropped but still on the board, or dropped twice", u.Seq, id)
		}
		if _, ok := old[id]; !ok {
			t.Fatalf("seq %d: %s dropped but was not on the board", u.Seq, id)
		}
		dropped[id] = true
	}
	for id := range old {
		if !now[id] && !dropped[id] {
			t.Fatalf("seq %d: %s left the board but is not in Dropped", u.Seq, id)
		}
	}
	if b := e.Board(); b.Seq != u.Seq || !equalRows(b.Rows, u.Rows) {
		t.Fatalf("Board() = seq %d, want the last update %d", b.Seq, u.Seq)
	}
}

func TestBoardRandomAgainstOracle(t *testing.T) {
	tests := []struct {
		size, players, ticks int
	}{
		{1, 50, 300},
		{10, 40, 300}, // the board is not full at first
		{10, 400, 300},
		{100, 1000, 200},
		{100, 60, 200}, // never full
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("size%d_players%d", tc.size, tc.players), func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				runBoardRandom(t, seed, tc.size, tc.players, tc.ticks)
			}
		})
	}
}

func runBoardRandom(t *testing.T, seed uint64, size, players, ticks int) {
	rng := rand.New(rand.NewPCG(seed, uint64(size)))
	e := newEngine(t, func(c *Config) {
		c.BoardSize = size
		// Short idle reset: scores fall back to 0 often, so bests tie often.
		c.IdleReset = 3 * time.Second
	})
	var ps []*memPlayer
	addPlayer := func() {
		var p *memPlayer
		if rng.IntN(4) == 0 {
			// Small, fixed ids: ties on time are broken by id.
			p = restore(t, e, idN(uint64(len(ps))), "fixed")
		} else {
			p = join(t, e, fmt.Sprintf("p%d", len(ps)))
		}
		ps = append(ps, p)
	}
	for i := 0; i < players/2; i++ {
		addPlayer()
	}
	prev := e.Board()
	now := t0
	for tick := 0; tick < ticks; tick++ {
		now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
		if len(ps) < players && rng.IntN(3) == 0 {
			addPlayer()
		}
		switch rng.IntN(20) {
		case 0:
			// Nothing happens this tick.
		case 1:
			// A few players rename.
			for i := 0; i < 1+rng.IntN(3); i++ {
				p := ps[rng.IntN(len(ps))]
				if _, err := e.rename(p, fmt.Sprintf("r%d", rng.IntN(5))); err != nil {
					t.Fatal(err)
				}
			}
		default:
			// Some players click, some of them at the same instant.
			n := rng.IntN(len(ps)/4 + 1)
			for i := 0; i < n; i++ {
				p := ps[rng.IntN(len(ps))]
				for k := rng.IntN(6); k > 0; k-- {
					e.click(p, now)
				}
				if rng.IntN(3) == 0 {
					now = now.Add(time.Millisecond)
				}
			}
		}
		var u Update
		var ok bool
		if rng.IntN(25) == 0 {
			u, ok = e.Rebuild(), true
		} else {
			u, ok = e.tick()
		}
		if !ok {
			if want := oracle(e, size); !equalRows(prev.Rows, want) {
				t.Fatalf("seed %d tick %d: Tick reported no change but the board should be\n%v\nnot\n%v", seed, tick, want, prev.Rows)
			}
			if b := e.Board(); b.Seq != prev.Seq {
				t.Fatalf("seed %d tick %d: seq moved to %d without an update", seed, tick, b.Seq)
			}
			continue
		}
		checkUpdate(t, e, prev, u, size)
		prev = u
	}
	if got := e.Rebuild(); !equalRows(got.Rows, oracle(e, size)) {
		t.Fatalf("seed %d: Rebuild disagrees with the oracle", seed)
	}
}

func TestTickNoChanges(t *testing.T) {
	e := newEngine(t, nil)
	if u, ok := e.tick(); ok {
		t.Fatalf("tick on an empty game: %+v", u)
	}
	p := join(t, e, "p")
	if u, ok := e.tick(); ok {
		t.Fatalf("a join without clicks changed the board: %+v", u)
	}
	mustClick(t, e, p, t0)
	u, ok := e.tick()
	if !ok || u.Seq != 1 || len(u.Rows) != 1 || !slices.Equal(u.Changed, []int{0}) {
		t.Fatalf("first click: %v %+v", ok, u)
	}
	for i := 0; i < 3; i++ {
		if u, ok := e.tick(); ok {
			t.Fatalf("tick %d without clicks: %+v", i, u)
		}
	}
	if e.Board().Seq != 1 {
		t.Fatal("seq moved")
	}
	// A click after an idle reset does not raise the best: no change.
	mustClick(t, e, p, at(time.Hour))
	if u, ok := e.tick(); ok {
		t.Fatalf("a click below the best changed the board: %+v", u)
	}
	// A rename to the same handle changes nothing on the board.
	if _, err := e.rename(p, "p"); err != nil {
		t.Fatal(err)
	}
	if u, ok := e.tick(); ok {
		t.Fatalf("a rename to the same handle changed the board: %+v", u)
	}
	if e.Board().Seq != 1 {
		t.Fatal("seq moved")
	}
}

func TestClicksFarBelowFullBoard(t *testing.T) {
	const size = 10
	e := newEngine(t, func(c *Config) { c.BoardSize = size })
	top := make([]*memPlayer, size)
	for i := range top {
		top[i] = join(t, e, "top")
		for j := 0; j < 40; j++ {
			mustClick(t, e, top[i], at(time.Duration(j)*time.Second))
		}
	}
	u, ok := e.tick()
	if !ok || len(u.Rows) != size {
		t.Fatalf("full board: %v %d rows", ok, len(u.Rows))
	}
	seq := u.Seq
	low := make([]*memPlayer, 50)
	for i := range low {
		low[i] = join(t, e, "low")
		for j := 0; j < 20; j++ {
			mustClick(t, e, low[i], at(time.Duration(j)*time.Second))
		}
	}
	// They were not even queued: their clicks are below the threshold.
	for i := range e.lanes {
		if e.lanes[i].changed.Load() != nil {
			t.Fatalf("lane %d has queued players", i)
		}
	}
	if u, ok := e.tick(); ok {
		t.Fatalf("clicks far below the board changed it: %+v", u)
	}
	// Reaching the last row's best at a later time is not enough either.
	for j := 20; j < 40; j++ {
		mustClick(t, e, low[0], at(time.Duration(j)*time.Second+time.Millisecond))
	}
	if u, ok := e.tick(); ok {
		t.Fatalf("a tie reached later entered the board: %+v", u)
	}
	if e.Board().Seq != seq {
		t.Fatal("seq moved")
	}
	// One more click beats the last row.
	prev := e.Board()
	mustClick(t, e, low[0], at(time.Minute))
	u, ok = e.tick()
	if !ok || u.Rows[0].ID != low[0].id || len(u.Dropped) != 1 {
		t.Fatalf("new leader: %v %+v", ok, u)
	}
	checkUpdate(t, e, prev, u, size)
}

func TestRebuildEqualsOracle(t *testing.T) {
	for _, size := range []int{1, 10, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(size)))
			e := newEngine(t, func(c *Config) { c.BoardSize = size; c.ThrottleLimit = 1 << 20 })
			ps := make([]*memPlayer, 500)
			for i := range ps {
				ps[i] = join(t, e, "p")
			}
			for i := 0; i < 5000; i++ {
				e.click(ps[rng.IntN(len(ps))], at(time.Duration(rng.IntN(100))*time.Millisecond))
			}
			prev := e.Board()
			u := e.Rebuild()
			checkUpdate(t, e, prev, u, size)
			// Rebuilding again changes nothing.
			again := e.Rebuild()
			if !equalRows(again.Rows, u.Rows) || len(again.Changed) != 0 || len(again.Dropped) != 0 {
				t.Fatalf("second rebuild: %+v", again)
			}
			// The queued players of the clicks are folded by the next tick without harm.
			if u2, ok := e.tick(); ok {
				checkUpdate(t, e, again, u2, size)
			}
		})
	}
}

func TestUpdateRowsAreNotModified(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.BoardSize = 3 })
	ps := make([]*memPlayer, 5)
	for i := range ps {
		ps[i] = join(t, e, fmt.Sprint("p", i))
		mustClick(t, e, ps[i], at(time.Duration(i)*time.Second))
	}
	u1, _ := e.tick()
	keep := slices.Clone(u1.Rows)
	for i := 0; i < 4; i++ {
		for _, p := range ps {
			mustClick(t, e, p, at(time.Minute+time.Duration(i)*time.Second))
		}
		e.rename(ps[4], "x")
		e.tick()
	}
	e.Rebuild()
	if !equalRows(u1.Rows, keep) {
		t.Fatal("a published board was modified")
	}
}
