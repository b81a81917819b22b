package game

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"
)

// t0 is the start of every test's clock. Tests pass explicit times and never sleep.
var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func newEngine(tb testing.TB, mod func(*Config)) *Engine {
	tb.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func join(tb testing.TB, e *Engine, handle string) *memPlayer {
	tb.Helper()
	p, err := e.join(handle)
	if err != nil {
		tb.Fatalf("Join(%q): %v", handle, err)
	}
	return p
}

// idN returns a fixed id whose bytes sort by n.
func idN(n uint64) uuid.UUID {
	var id uuid.UUID
	for i := 0; i < 8; i++ {
		id[15-i] = byte(n >> (8 * i))
	}
	id[6] = 0x40 // keep it looking like a v4 uuid; does not change the order
	id[8] = 0x80
	return id
}

func restore(tb testing.TB, e *Engine, id uuid.UUID, handle string) *memPlayer {
	tb.Helper()
	p, err := e.restore(id, handle)
	if err != nil {
		tb.Fatalf("Restore(%s, %q): %v", id, handle, err)
	}
	return p
}

func mustClick(tb testing.TB, e *Engine, p *memPlayer, now time.Time) ClickResult {
	tb.Helper()
	r := e.click(p, now)
	if !r.Counted {
		tb.Fatalf("click at %s was refused: %+v", now.Sub(t0), r)
	}
	return r
}

func mustRefuse(tb testing.TB, e *Engine, p *memPlayer, now time.Time, retry time.Duration) ClickResult {
	tb.Helper()
	r := e.click(p, now)
	if r.Counted {
		tb.Fatalf("click at %s counted, want refused: %+v", now.Sub(t0), r)
	}
	if !r.Throttled || r.RetryAfter != retry {
		tb.Fatalf("refused click at %s: Throttled %v RetryAfter %s, want true and %s", now.Sub(t0), r.Throttled, r.RetryAfter, retry)
	}
	return r
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	d := DefaultConfig()
	if d.ThrottleLimit != 50 || d.ThrottleWindow != time.Second || d.ThrottlePenalty != time.Minute ||
		d.IdleReset != 5*time.Minute || d.BoardSize != 100 {
		t.Fatalf("default config %+v is not the designed rules", d)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"zero limit", func(c *Config) { c.ThrottleLimit = 0 }, "throttle limit"},
		{"huge limit", func(c *Config) { c.ThrottleLimit = attemptMask }, "throttle limit"},
		{"zero window", func(c *Config) { c.ThrottleWindow = 0 }, "throttle window"},
		{"zero penalty", func(c *Config) { c.ThrottlePenalty = 0 }, "throttle penalty"},
		{"zero idle", func(c *Config) { c.IdleReset = 0 }, "idle reset"},
		{"zero board", func(c *Config) { c.BoardSize = 0 }, "board size"},
		{"huge board", func(c *Config) { c.BoardSize = 10001 }, "board size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error about %s", err, tc.want)
			}
			if _, err := New(c); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestBestIsMaxOfScore(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "bob")
	now := t0
	click := func(n int) {
		for i := 0; i < n; i++ {
			now = now.Add(100 * time.Millisecond)
			mustClick(t, e, p, now)
		}
	}
	click(7)
	now = now.Add(10 * time.Minute) // idle reset
	click(3)
	if s := e.stateAt(p, now); s.Score != 3 || s.Best != 7 || s.Total != 10 {
		t.Fatalf("after a reset and 3 clicks: %+v, want score 3 best 7 total 10", s)
	}
	click(4)
	if s := e.stateAt(p, now); s.Score != 7 || s.Best != 7 || s.Total != 14 {
		t.Fatalf("equal to best: %+v", s)
	}
	click(1)
	if s := e.stateAt(p, now); s.Score != 8 || s.Best != 8 || s.Total != 15 {
		t.Fatalf("beyond best: %+v", s)
	}
}

// violate makes 51 attempts at now, so the last exceeds the limit.
func violate(e *Engine, p *memPlayer, now time.Time) (counted int) {
	for i := 0; i < 51; i++ {
		if e.click(p, now).Counted {
			counted++
		}
	}
	return counted
}

func TestIdleReset(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "idler")
	for i := 0; i < 10; i++ {
		mustClick(t, e, p, at(time.Duration(i)*time.Second))
	}
	last := 9 * time.Second
	tests := []struct {
		after time.Duration
		score int64
		reset bool
	}{
		{0, 10, false},
		{time.Minute, 10, false},
		{5*time.Minute - time.Nanosecond, 10, false},
		{5 * time.Minute, 0, true},
		{6 * time.Minute, 0, true},
		{24 * time.Hour, 0, true},
	}
	for _, tc := range tests {
		s := e.stateAt(p, at(last+tc.after))
		if s.Score != tc.score || s.IdleReset != tc.reset || s.Best != 10 || s.Total != 10 {
			t.Errorf("%s after the last click: %+v, want score %d idle %v best 10 total 10", tc.after, s, tc.score, tc.reset)
		}
	}
	// Best stays on the board while the score is reset.
	if _, ok := e.tick(); !ok {
		t.Fatal("no board")
	}
	r := mustClick(t, e, p, at(last+6*time.Minute))
	if r.Score != 1 || r.Best != 10 || r.Total != 11 || r.IdleReset {
		t.Fatalf("first click after 6 idle minutes: %+v", r)
	}
	if b := e.Board(); len(b.Rows) != 1 || b.Rows[0].Best != 10 {
		t.Fatalf("board %+v", b.Rows)
	}
	if u, ok := e.tick(); ok {
		t.Fatalf("a click below the best changed the board: %+v", u)
	}
}

func TestIdleResetInRecords(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "p")
	for i := 0; i < 3; i++ {
		mustClick(t, e, p, at(time.Duration(i)*time.Second))
	}
	get := func(now time.Time) Record {
		var rs []Record
		e.records(now, func(r Record) error { rs = append(rs, r); return nil })
		if len(rs) != 1 {
			t.Fatalf("%d records", len(rs))
		}
		return rs[0]
	}
	if r := get(at(time.Minute)); r.Score != 3 || r.Best != 3 || r.Total != 3 || !r.LastClick.Equal(at(2*time.Second)) || !r.BestAt.Equal(at(2*time.Second)) {
		t.Fatalf("record %+v", r)
	}
	if r := get(at(2*time.Second + 5*time.Minute)); r.Score != 0 || r.Best != 3 || r.Total != 3 {
		t.Fatalf("record after idle reset %+v", r)
	}
}

func TestTiesRankWhoReachedFirst(t *testing.T) {
	e := newEngine(t, nil)
	// high has the larger id but reaches 3 first, so it ranks first.
	low := restore(t, e, idN(1), "low")
	high := restore(t, e, idN(1000), "high")
	for i := 0; i < 3; i++ {
		mustClick(t, e, high, at(time.Duration(i)*time.Second))
	}
	for i := 0; i < 3; i++ {
		mustClick(t, e, low, at(time.Duration(i)*time.Second+time.Millisecond))
	}
	u, _ := e.tick()
	if len(u.Rows) != 2 || u.Rows[0].ID != high.id || u.Rows[1].ID != low.id {
		t.Fatalf("rows %+v, want high then low", u.Rows)
	}
	if !equalRows(u.Rows, oracle(e, 100)) || !equalRows(e.Rebuild().Rows, u.Rows) {
		t.Fatal("board and oracle disagree")
	}
	// low pulls ahead; high ties later and stays behind.
	mustClick(t, e, low, at(10*time.Second))
	mustClick(t, e, high, at(11*time.Second))
	u, _ = e.tick()
	if u.Rows[0].ID != low.id || u.Rows[1].ID != high.id {
		t.Fatalf("rows %+v, want low then high", u.Rows)
	}
	// Exactly the same time: the id decides.
	a := restore(t, e, idN(7), "a")
	b := restore(t, e, idN(6), "b")
	for i := 0; i < 9; i++ {
		mustClick(t, e, a, at(20*time.Second+time.Duration(i)*time.Second))
		mustClick(t, e, b, at(20*time.Second+time.Duration(i)*time.Second))
	}
	u, _ = e.tick()
	if u.Rows[0].ID != b.id || u.Rows[1].ID != a.id {
		t.Fatalf("rows %+v, want b then a", u.Rows)
	}
	if !equalRows(u.Rows, oracle(e, 100)) {
		t.Fatal("board and oracle disagree")
	}
}

func TestRenameKeepsScores(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "old")
	other := join(t, e, "other")
	for i := 0; i < 5; i++ {
		mustClick(t, e, p, at(time.Duration(i)*time.Second))
	}
	mustClick(t, e, other, t0)
	e.tick()
	before := e.stateAt(p, at(5*time.Second))
	v := e.version()
	h, err := e.rename(p, "  new   name ")
	if err != nil || h != "new name" {
		t.Fatalf("Rename = %q, %v", h, err)
	}
	if e.version() == v {
		t.Fatal("Version did not change on rename")
	}
	after := e.stateAt(p, at(5*time.Second))
	before.Handle = "new name"
	if after != before {
		t.Fatalf("after rename %+v, want %+v", after, before)
	}
	u, ok := e.tick()
	if !ok || len(u.Changed) != 1 || u.Changed[0] != 0 || len(u.Dropped) != 0 {
		t.Fatalf("tick after rename: %v %+v", ok, u)
	}
	if r := u.Rows[0]; r.ID != p.id || r.Handle != "new name" || r.Best != 5 {
		t.Fatalf("row %+v", r)
	}

	// A refused rename changes nothing.
	v = e.version()
	if _, err := e.rename(p, "a<b"); err == nil {
		t.Fatal("invalid rename accepted")
	}
	if p.Handle() != "new name" || e.version() != v {
		t.Fatal("a refused rename changed the player")
	}
	if _, ok := e.tick(); ok {
		t.Fatal("a refused rename changed the board")
	}

	// Renaming a player who is not on the board changes the version but not the board.
	q := join(t, e, "q")
	v = e.version()
	if _, err := e.rename(q, "q2"); err != nil {
		t.Fatal(err)
	}
	if e.version() == v || q.Handle() != "q2" {
		t.Fatal("rename of an off-board player")
	}
	if u, ok := e.tick(); ok {
		t.Fatalf("renaming a player with no clicks changed the board: %+v", u)
	}
}

func TestRestore(t *testing.T) {
	e := newEngine(t, nil)
	id := uuid.New()
	if _, err := e.restore(id, "x@y"); err == nil {
		t.Fatal("Restore with an invalid handle of an unknown id succeeded")
	}
	if e.get(id) != nil || e.Stats().Players != 0 {
		t.Fatal("a refused Restore created a player")
	}
	v := e.version()
	p := restore(t, e, id, " back  again ")
	if p.id != id || p.Handle() != "back again" {
		t.Fatalf("restored %s %q", p.id, p.Handle())
	}
	if s := e.stateAt(p, t0); s != (State{Handle: "back again"}) {
		t.Fatalf("restored state %+v", s)
	}
	if e.version() == v || e.Stats().Players != 1 {
		t.Fatal("Restore of a new player did not count")
	}
	mustClick(t, e, p, t0)
	// Restoring a known id returns the stored player as it is.
	v = e.version()
	q, err := e.restore(id, "other")
	if err != nil || q != p || q.Handle() != "back again" {
		t.Fatalf("Restore of a known id = %v, %v", q, err)
	}
	if q, err := e.restore(id, "in<valid"); err != nil || q != p {
		t.Fatalf("Restore of a known id with a bad handle = %v, %v", q, err)
	}
	if e.version() != v || e.Stats().Players != 1 {
		t.Fatal("Restore of a known id changed the game")
	}
}

func TestJoinRefusesBadHandle(t *testing.T) {
	e := newEngine(t, nil)
	if p, err := e.join("\u202eevil"); err == nil || p != nil {
		t.Fatalf("Join = %v, %v", p, err)
	}
	if e.Stats().Players != 0 || e.version() != 0 {
		t.Fatal("a refused join changed the game")
	}
	a, b := join(t, e, "same"), join(t, e, "same")
	if a.id == b.id || a == b {
		t.Fatal("two joins share an id")
	}
	if e.Stats().Players != 2 {
		t.Fatal("handles need not be unique")
	}
}

func TestAttachDetach(t *testing.T) {
	e := newEngine(t, nil)
	a, b := join(t, e, "a"), join(t, e, "b")
	attach := func(p *memPlayer) { e.attach(p, t0) }
	detach := func(p *memPlayer) { e.detach(p, t0) }
	steps := []struct {
		do           func(*memPlayer)
		p            *memPlayer
		online, peak int64
	}{
		{attach, a, 1, 1},
		{attach, a, 1, 1}, // second tab
		{attach, b, 2, 2},
		{detach, a, 2, 2},
		{detach, a, 1, 2},
		{attach, a, 2, 2},
		{detach, b, 1, 2},
		{detach, a, 0, 2},
	}
	for i, s := range steps {
		s.do(s.p)
		if st := e.Stats(); st.Online != s.online || st.PeakOnline != s.peak {
			t.Fatalf("step %d: online %d peak %d, want %d and %d", i, st.Online, st.PeakOnline, s.online, s.peak)
		}
	}
	if e.version() != 2 {
		t.Fatalf("Attach/Detach changed the version to %d", e.version())
	}
}

func TestStatsTotals(t *testing.T) {
	e := newEngine(t, nil)
	var want int64
	ps := make([]*memPlayer, 20)
	for i := range ps {
		ps[i] = join(t, e, "p")
		for j := 0; j <= i; j++ {
			mustClick(t, e, ps[i], at(time.Duration(j)*time.Second))
			want++
		}
	}
	// Refused clicks are not counted.
	violate(e, ps[0], at(time.Hour))
	want += 50
	if st := e.Stats(); st.TotalClicks != want || st.Players != 20 {
		t.Fatalf("stats %+v, want %d clicks and 20 players", st, want)
	}
	var sum int64
	e.records(at(time.Hour), func(r Record) error { sum += r.Total; return nil })
	if sum != want {
		t.Fatalf("sum of totals %d, want %d", sum, want)
	}
}

func TestVersion(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "p")
	changes := func(name string, want bool, f func()) {
		t.Helper()
		v := e.version()
		f()
		if got := e.version() != v; got != want {
			t.Fatalf("%s: version changed %v, want %v", name, got, want)
		}
	}
	changes("click", true, func() { mustClick(t, e, p, t0) })
	changes("rename", true, func() { e.rename(p, "q") })
	changes("join", true, func() { join(t, e, "new") })
	changes("restore new", true, func() { restore(t, e, uuid.New(), "r") })
	changes("state", false, func() { e.stateAt(p, at(time.Hour)) })
	changes("tick", false, func() { e.tick() })
	changes("rebuild", false, func() { e.Rebuild() })
	changes("board", false, func() { e.Board() })
	changes("stats", false, func() { e.Stats() })
	changes("attach", false, func() { e.attach(p, t0) })
	changes("detach", false, func() { e.detach(p, t0) })
	changes("records", false, func() { e.records(t0, func(Record) error { return nil }) })
	changes("restore known", false, func() { restore(t, e, p.id, "zzz") })
	changes("bad rename", false, func() { e.rename(p, "") })
	changes("get", false, func() { e.get(p.id) })
	for i := 0; i < 50; i++ {
		mustClick(t, e, p, at(time.Second))
	}
	changes("refused click", false, func() { mustRefuse(t, e, p, at(time.Second), time.Minute) })
	changes("refused click while throttled", false, func() { mustRefuse(t, e, p, at(2*time.Second), time.Minute-time.Second) })
}

func TestConcurrentClicksManyPlayers(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.BoardSize = 10 })
	const goroutines, players, clicksEach = 8, 64, 2000
	ps := make([]*memPlayer, players)
	for i := range ps {
		ps[i] = join(t, e, "p")
	}
	counted := make([]atomic.Int64, players)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Ticks, boards, records and stats run alongside the clicks.
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.tick()
			e.Board()
			e.Stats()
			e.version()
			e.records(at(time.Hour), func(Record) error { return nil })
		}
	}()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < clicksEach; i++ {
				k := rng.IntN(players)
				// Each goroutine has its own clock, so some players get throttled.
				now := at(time.Duration(i) * 5 * time.Millisecond)
				if r := e.click(ps[k], now); r.Counted {
					counted[k].Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	var sum int64
	for i, p := range ps {
		c := counted[i].Load()
		sum += c
		s := e.stateAt(p, at(10*time.Second))
		if s.Total != c {
			t.Errorf("player %d: total %d, counted %d", i, s.Total, c)
		}
		if s.Best < 1 || s.Best > c || s.Score > s.Best {
			t.Errorf("player %d: %+v with %d counted", i, s, c)
		}
	}
	if st := e.Stats(); st.TotalClicks != sum {
		t.Fatalf("TotalClicks %d, sum of counted clicks %d", st.TotalClicks, sum)
	}
	if sum == goroutines*clicksEach {
		t.Log("note: no click was throttled")
	}
	e.tick()
	if b := e.Board(); !equalRows(b.Rows, oracle(e, 10)) {
		t.Fatalf("board after concurrent clicks\n%v\nwant\n%v", b.Rows, oracle(e, 10))
	}
}

func TestConcurrentClicksSharedPlayer(t *testing.T) {
	const goroutines, clicksEach = 8, 2000
	t.Run("default rules", func(t *testing.T) {
		e := newEngine(t, nil)
		p := join(t, e, "shared")
		var counted atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < clicksEach; i++ {
					// Together the tabs click 8 times per ms: far over the limit.
					if e.click(p, at(time.Duration(i)*time.Millisecond)).Counted {
						counted.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		c := counted.Load()
		s := e.stateAt(p, at(2*time.Second))
		if s.Total != c || e.Stats().TotalClicks != c {
			t.Fatalf("total %d, TotalClicks %d, counted %d", s.Total, e.Stats().TotalClicks, c)
		}
		if s.Score != c || s.Best != c {
			t.Fatalf("score %d best %d, want %d", s.Score, s.Best, c)
		}
		if c < 50 || c >= goroutines*clicksEach/2 {
			t.Fatalf("%d clicks counted: the throttle did not work", c)
		}
		if !s.Throttled {
			t.Fatalf("not throttled: %+v", s)
		}
	})
	t.Run("no throttle", func(t *testing.T) {
		e := newEngine(t, func(c *Config) { c.ThrottleLimit = 1 << 20 })
		p := join(t, e, "shared")
		var wg sync.WaitGroup
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < clicksEach; i++ {
					if !e.click(p, at(time.Duration(i)*time.Millisecond)).Counted {
						t.Error("click refused")
						return
					}
				}
			}()
		}
		// Ticks race with the clicks of the shared player.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 200; i++ {
				e.tick()
			}
		}()
		wg.Wait()
		<-done
		const want = goroutines * clicksEach
		if s := e.stateAt(p, at(2*time.Second)); s.Score != want || s.Best != want || s.Total != want {
			t.Fatalf("state %+v, want %d everywhere", s, want)
		}
		if e.Stats().TotalClicks != want {
			t.Fatalf("TotalClicks %d", e.Stats().TotalClicks)
		}
		e.tick()
		if b := e.Board(); len(b.Rows) != 1 || b.Rows[0].Best != want {
			t.Fatalf("board %+v", b.Rows)
		}
	})
}

// TestThrottleEarlierStampDoesNotRestartTheWindow: a tab whose click is stamped a
// little before the window's start (another socket read a moment earlier) counts in
// the window; it must not open a new one and let the limit be clicked again.
func TestThrottleEarlierStampDoesNotRestartTheWindow(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "two clocks")
	for range 50 {
		mustClick(t, e, p, at(time.Second))
	}
	counted := 0
	for range 50 {
		for _, d := range []time.Duration{time.Second - time.Millisecond, time.Second} {
			if e.click(p, at(d)).Counted {
				counted++
			}
		}
	}
	if counted != 0 {
		t.Fatalf("%d clicks past the limit counted by alternating a slightly earlier stamp", counted)
	}
}

// TestIdleResetRacingTabs: many tabs of one player click across idle resets. Each
// run of clicks after a reset must count from 1, whichever tab applies the reset:
// no tab may count on the score from before it, so the best is exactly the longest
// run, never more. Runs alternate long and short, so a short run that counted on the
// old score would push the best above the longest run.
func TestIdleResetRacingTabs(t *testing.T) {
	const tabs, rounds = 8, 3000
	e := newEngine(t, func(c *Config) { c.ThrottleLimit = 1 << 20; c.IdleReset = time.Second })
	p := join(t, e, "tabs")
	longest := int64(0)
	for r := range rounds {
		now := at(time.Duration(r) * time.Minute) // every round starts after an idle reset
		perTab := 20
		if r%2 == 1 {
			perTab = 1 // a short run right after a long one
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range tabs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range perTab {
					if !e.click(p, now).Counted {
						t.Error("click refused")
					}
					runtime.Gosched() // interleave the tabs
				}
			}()
		}
		close(start)
		wg.Wait()
		run := int64(tabs * perTab)
		longest = max(longest, run)
		if s := e.stateAt(p, now); s.Score != run || s.Best != longest {
			t.Fatalf("round %d: score %d best %d, want %d and %d", r, s.Score, s.Best, run, longest)
		}
	}
}

func TestConcurrentJoinRenameRestore(t *testing.T) {
	e := newEngine(t, nil)
	const goroutines, each = 8, 300
	ids := make([]uuid.UUID, each)
	for i := range ids {
		ids[i] = uuid.New()
	}
	var wg sync.WaitGroup
	restored := make([][]*memPlayer, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				p, err := e.join("j")
				if err != nil {
					t.Error(err)
					return
				}
				e.click(p, at(time.Duration(i)*time.Second))
				e.rename(p, "renamed")
				// Every goroutine restores the same ids: one player each.
				q, err := e.restore(ids[i], "r")
				if err != nil {
					t.Error(err)
					return
				}
				restored[g] = append(restored[g], q)
			}
		}(g)
	}
	wg.Wait()
	if got := e.Stats().Players; got != goroutines*each+each {
		t.Fatalf("%d players, want %d", got, goroutines*each+each)
	}
	for g := 1; g < goroutines; g++ {
		for i := range restored[g] {
			if restored[g][i] != restored[0][i] {
				t.Fatalf("Restore of one id returned two players")
			}
		}
	}
	n := 0
	e.store.Range(func(p *memPlayer) bool {
		if e.get(p.id) != p {
			t.Fatalf("Get(%s) does not find the stored player", p.id)
		}
		n++
		return true
	})
	if n != goroutines*each+each {
		t.Fatalf("Range saw %d players", n)
	}
}

func TestRecordsConsistentWhileClicking(t *testing.T) {
	// Every record handed out while clicks go on passes the checks Load makes, so a
	// snapshot written during play can always be loaded.
	e := newEngine(t, func(c *Config) { c.ThrottleLimit = 1 << 20 })
	ps := []*memPlayer{join(t, e, "a"), join(t, e, "b")}
	var wg sync.WaitGroup
	var done atomic.Bool
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; !done.Load(); i++ {
				// Player b also goes idle now and then, so its score drops back to 1.
				d := time.Duration(i) * time.Millisecond
				if g%2 == 1 && i%500 == 0 {
					d += time.Duration(i/500) * time.Hour
				}
				e.click(ps[g%2], at(d))
			}
		}(g)
	}
	for n := 0; n < 3000; n++ {
		e.records(at(0), func(r Record) error {
			if r.Score < 0 || r.Score > r.Best || r.Best > r.Total {
				t.Errorf("inconsistent record %+v", r)
			}
			return nil
		})
	}
	done.Store(true)
	wg.Wait()
	// A version read after the clicks implies their bests are visible too.
	rs := records(e, at(0))
	for _, r := range rs {
		p := e.get(r.ID)
		if r.Best != p.best.Load() || r.Total != p.total.Load() {
			t.Fatalf("record %+v after the clicks stopped", r)
		}
	}
}

func TestReturningPlayers(t *testing.T) {
	e := newEngine(t, nil)
	p := join(t, e, "wanderer")
	if e.attach(p, t0) {
		t.Fatal("a brand-new player counted as returning")
	}
	mustClick(t, e, p, t0)
	e.detach(p, at(time.Minute))
	cases := []struct {
		name      string
		back      time.Duration // after the socket closed
		returning bool
	}{
		{"back after 29 minutes", 29 * time.Minute, false},
		{"back after exactly 30 minutes", ReturnAfter, true},
		{"back after a day", 24 * time.Hour, true},
	}
	left := at(time.Minute)
	var want int64
	for _, c := range cases {
		now := left.Add(c.back)
		if got := e.attach(p, now); got != c.returning {
			t.Fatalf("%s: returning %v, want %v", c.name, got, c.returning)
		}
		if c.returning {
			want++
		}
		if got := e.Stats().Returning; got != want {
			t.Fatalf("%s: Stats().Returning %d, want %d", c.name, got, want)
		}
		// A second tab opened at the same moment is not another return.
		if e.attach(p, now) {
			t.Fatalf("%s: second tab counted as returning", c.name)
		}
		e.detach(p, now)
		e.detach(p, now)
		left = now
	}
}

func TestRefusedClicksAreCounted(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.ThrottleLimit = 3 })
	p := join(t, e, "bot")
	for range 10 {
		e.click(p, t0)
	}
	if st := e.Stats(); st.TotalClicks != 3 || st.Refused != 7 {
		t.Fatalf("stats %+v, want 3 counted and 7 refused", st)
	}
}

// stateAt is State at an explicit time.
func (e *Engine) stateAt(p *memPlayer, now time.Time) State { return e.state(p, now.UnixNano()) }

// TestPlayerLayout holds memPlayer to the layout the snapshot writer counts on: every
// field of a snapshot row in the first cache line, and a size that keeps every player of
// a load slab starting on a cache line. (A player allocated alone gets no such promise
// from the Go allocator.)
func TestPlayerLayout(t *testing.T) {
	var p memPlayer
	if size := unsafe.Sizeof(p); size%64 != 0 {
		t.Errorf("memPlayer is %d bytes, not a whole number of 64-byte cache lines", size)
	}
	ends := map[string]uintptr{
		"id":        unsafe.Offsetof(p.id) + unsafe.Sizeof(p.id),
		"handle":    unsafe.Offsetof(p.handle) + unsafe.Sizeof(p.handle),
		"score":     unsafe.Offsetof(p.score) + unsafe.Sizeof(p.score),
		"best":      unsafe.Offsetof(p.best) + unsafe.Sizeof(p.best),
		"bestAt":    unsafe.Offsetof(p.bestAt) + unsafe.Sizeof(p.bestAt),
		"total":     unsafe.Offsetof(p.total) + unsafe.Sizeof(p.total),
		"lastClick": unsafe.Offsetof(p.lastClick) + unsafe.Sizeof(p.lastClick),
	}
	for name, end := range ends {
		if end > 64 {
			t.Errorf("memPlayer.%s ends at byte %d, outside the first cache line", name, end)
		}
	}
	slab := make([]memPlayer, loadSlab)
	for _, i := range []int{0, 1, loadSlab - 1} {
		if a := uintptr(unsafe.Pointer(&slab[i])); a%64 != 0 {
			t.Errorf("player %d of a slab starts at %#x, not on a cache line", i, a)
		}
	}
}
