package server

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/game/redisgame"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
)

func TestPulseObserve(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(ms int64) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type obs struct {
		ms    int64
		total int64
	}
	cases := []struct {
		name    string
		obs     []obs
		changed []bool
		tail    []int64 // the newest seconds of the rate after the last observation
	}{
		{
			name:    "the start only sets the base",
			obs:     []obs{{0, 500}, {900, 520}},
			changed: []bool{false, false},
			tail:    []int64{0, 0},
		},
		{
			name:    "a second is published once the next one starts",
			obs:     []obs{{0, 100}, {100, 103}, {900, 107}, {1000, 110}},
			changed: []bool{false, false, false, true},
			tail:    []int64{0, 10},
		},
		{
			name:    "ticks within a second change nothing",
			obs:     []obs{{0, 0}, {1000, 4}, {1100, 9}, {1900, 12}},
			changed: []bool{false, true, false, false},
			tail:    []int64{0, 4},
		},
		{
			name:    "consecutive seconds shift, oldest first",
			obs:     []obs{{0, 0}, {1000, 4}, {2000, 6}, {3050, 16}},
			changed: []bool{false, true, true, true},
			tail:    []int64{4, 2, 10},
		},
		{
			name:    "a stall over several seconds spreads the clicks, the remainder last",
			obs:     []obs{{0, 0}, {3000, 11}},
			changed: []bool{false, true},
			tail:    []int64{0, 3, 4, 4},
		},
		{
			name:    "a shrinking total counts 0, not a negative pace",
			obs:     []obs{{0, 50}, {1000, 60}, {2000, 20}, {3000, 25}},
			changed: []bool{false, true, true, true},
			tail:    []int64{10, 0, 5},
		},
		{
			name:    "a quiet second after a busy one is a change",
			obs:     []obs{{0, 0}, {1000, 7}, {2000, 7}},
			changed: []bool{false, true, true},
			tail:    []int64{7, 0},
		},
		{
			name:    "an all-quiet minute sliding on is no change",
			obs:     []obs{{0, 9}, {1000, 9}, {2000, 9}},
			changed: []bool{false, false, false},
			tail:    []int64{0, 0, 0},
		},
		{
			name:    "a clock stepped back waits for the open second to pass",
			obs:     []obs{{5000, 0}, {2000, 40}, {6000, 42}},
			changed: []bool{false, false, true},
			tail:    []int64{0, 42},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newPulse(at(c.obs[0].ms), c.obs[0].total)
			for i, o := range c.obs[1:] {
				i++
				if got := p.observe(at(o.ms), o.total); got != c.changed[i] {
					t.Fatalf("observation %d (%+v): changed %v, want %v", i, o, got, c.changed[i])
				}
			}
			rate := p.snapshot()
			if len(rate) != pulseSeconds {
				t.Fatalf("rate has %d seconds, want %d", len(rate), pulseSeconds)
			}
			if got := rate[pulseSeconds-len(c.tail):]; !slices.Equal(got, c.tail) {
				t.Fatalf("newest seconds %v, want %v (rate %v)", got, c.tail, rate)
			}
			for i, v := range rate[:pulseSeconds-len(c.tail)] {
				if v != 0 {
					t.Fatalf("second %d is %d, want 0 (rate %v)", i, v, rate)
				}
			}
		})
	}
}

func TestPulseKeepsOneMinute(t *testing.T) {
	t0 := time.Unix(2_000_000, 0)
	p := newPulse(t0, 0)
	for s := 1; s <= 90; s++ {
		p.observe(t0.Add(time.Duration(s)*time.Second), int64(s*(s+1)/2)) // second s had s clicks
	}
	rate := p.snapshot()
	if len(rate) != pulseSeconds || rate[0] != 31 || rate[pulseSeconds-1] != 90 {
		t.Fatalf("rate %v, want 31 to 90", rate)
	}
	// A stall longer than the window leaves only its own spread.
	p.observe(t0.Add(290*time.Second), 4095+200*30)
	for i, v := range p.snapshot() {
		if v != 30 {
			t.Fatalf("after a 200 s stall second %d is %d, want 30", i, v)
		}
	}
}

// rateSum reads frames until a stats frame carries a rate summing to want, failing
// after the deadline. It returns that rate.
func (s *socket) rateSum(want int64, deadline time.Duration) []any {
	s.t.Helper()
	end := time.Now().Add(deadline)
	var last []any
	for time.Now().Before(end) {
		f := s.next()
		rate, ok := f["rate"].([]any)
		if !ok {
			continue
		}
		if f["type"] != "stats" && f["type"] != "board" {
			s.t.Fatalf("rate in a %v frame: %v", f["type"], f)
		}
		last = rate
		var sum int64
		for _, v := range rate {
			sum += num(v)
		}
		if len(rate) == pulseSeconds && sum == want {
			return rate
		}
	}
	s.t.Fatalf("no rate summing to %d within %v; last %v", want, deadline, last)
	return nil
}

func TestPulseOverSocket(t *testing.T) {
	ts := newTestServer(t)
	p := ts.newPlayer(t)
	p.join("Pacer")
	sock := p.dial()
	for range 5 {
		sock.send(`{"type":"click"}`)
		sock.until("state", nil)
	}
	sock.rateSum(5, 10*time.Second)

	// A socket opened later gets the rate with its first board, without waiting.
	late := ts.newPlayer(t)
	late.join("Late")
	board := late.dial().until("board", nil)
	if rate, _ := board["rate"].([]any); len(rate) != pulseSeconds {
		t.Fatalf("board frame on connect has rate %v", board["rate"])
	}
	_, st := p.do("GET", "/api/stats", "")
	rate, _ := st["rate"].([]any)
	var sum int64
	for _, v := range rate {
		sum += num(v)
	}
	if len(rate) != pulseSeconds || sum != 5 {
		t.Fatalf("api/stats rate %v, want %d seconds summing to 5", st["rate"], pulseSeconds)
	}
}

// serveBackend is a test server like newTestServer over any backend, its hub running.
func serveBackend(t *testing.T, g game.Backend) *testServer {
	t.Helper()
	return startTestServer(t, mustNew(t, testConfig(), g), nil)
}

// TestPulseInRedisMode: the pulse comes from the game-wide counter, so a node shows the
// clicks counted on another node of the same game, through a real redis-server.
func TestPulseInRedisMode(t *testing.T) {
	r := testutil.StartRedis(t)
	open := func() *redisgame.Backend {
		b, err := redisgame.Open(context.Background(), redisgame.Options{
			URL: r.URL(), Rules: game.DefaultConfig(), Log: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	clicking, watching := open(), open()
	ts := serveBackend(t, watching)
	viewer := ts.newPlayer(t)
	viewer.join("Viewer")
	sock := viewer.dial()

	ctx := context.Background()
	p, err := clicking.Join(ctx, "Elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		res, err := clicking.Click(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Counted {
			t.Fatalf("click %d not counted: %+v", i, res)
		}
	}
	sock.rateSum(12, 10*time.Second)
}
