package game

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// benchGame is a game of one million players. Every player has score and best 1000
// (reached at distinct times) and clicked recently, so one more click raises any
// player's best above the board's threshold and queues the player for the next tick.
type benchGame struct {
	e       *Engine
	ids     []uuid.UUID
	players []*memPlayer // the players of ids, same order
	base    time.Time    // around the players' last clicks
}

const benchPlayers = 1_000_000

// benchRecord is the stored fields player i of a bench game starts with.
func benchRecord(id uuid.UUID, i int, base time.Time) Record {
	return Record{
		ID:        id,
		Handle:    fmt.Sprintf("player %d", i),
		Score:     1000,
		Best:      1000,
		Total:     1000 + int64(i%5000),
		LastClick: base.Add(-time.Duration(i) * time.Microsecond),
		BestAt:    base.Add(-time.Duration(i) * time.Microsecond),
	}
}

func newBenchGame() (*benchGame, error) {
	start := time.Now()
	g := &benchGame{base: t0}
	e, err := New(DefaultConfig())
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	g.ids = make([]uuid.UUID, benchPlayers)
	g.players = make([]*memPlayer, benchPlayers)
	for i := range g.ids {
		id := &g.ids[i]
		for j := 0; j < 16; j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8; k++ {
				id[j+k] = byte(v >> (8 * k))
			}
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if err := e.Load(benchRecord(*id, i, g.base)); err != nil {
			return nil, err
		}
		g.players[i] = e.get(*id)
	}
	e.Rebuild()
	g.e = e
	fmt.Printf("built %d players in %s\n", benchPlayers, time.Since(start).Round(time.Millisecond))
	return g, nil
}

var (
	benchOnce sync.Once
	bench     *benchGame
	benchErr  error
)

// benchFixture is a bench game built once and shared by the Get benchmarks, which
// only read it. It stays in the heap for the rest of the process, so the snapshot
// benchmarks, whose garbage collection depends on what else the heap holds, build
// their own.
func benchFixture(b *testing.B) *benchGame {
	b.Helper()
	benchOnce.Do(func() { bench, benchErr = newBenchGame() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

// drain empties every changed list as a tick does, without folding anything into the
// board, so the next counted click of any player pushes it again.
func drain(e *Engine, scratch []*memPlayer) []*memPlayer {
	scratch = scratch[:0]
	for i := range e.lanes {
		scratch = e.lanes[i].take(scratch)
	}
	return scratch
}

// BenchmarkClick is one player clicking 40 times a second with a tick every 100 ms:
// every 4th click finds the player off the changed list and pushes it, as in the
// server, because the benchmark empties the player's lane (with the tick's own code)
// every 4 clicks. That emptying, two atomic operations per 4 clicks, is inside the
// figure.
func BenchmarkClick(b *testing.B) {
	e := newEngine(b, nil)
	p := join(b, e, "clicker")
	now := t0
	var scratch []*memPlayer
	pushes := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%40 == 0 {
			now = now.Add(time.Second) // 40 clicks a second: never throttled
		}
		if i%4 == 0 {
			scratch = p.lane.take(scratch[:0])
			pushes += len(scratch)
		}
		if !e.click(p, now).Counted {
			b.Fatal("click refused")
		}
	}
	b.StopTimer()
	if b.N > 4 && pushes < b.N/4-1 {
		b.Fatalf("%d pushes in %d clicks, want one every 4", pushes, b.N)
	}
}

// BenchmarkBackendClick is BenchmarkClick through game.Backend, as the server calls it:
// the interface, the context, the removed check and the engine's own clock (here one
// that moves 25 ms a call, so the player is never throttled).
func BenchmarkBackendClick(b *testing.B) {
	var ticks int64
	e := newEngine(b, func(c *Config) {
		c.Now = func() time.Time { ticks++; return t0.Add(time.Duration(ticks) * 25 * time.Millisecond) }
	})
	var g Backend = e
	p, err := g.Join(context.Background(), "clicker")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r, err := g.Click(ctx, p); err != nil || !r.Counted {
			b.Fatal("click refused")
		}
	}
}

// BenchmarkClickParallel is one player per goroutine, each clicking 40 times a second
// of its own clock; like BenchmarkClick, every 4th click pushes the player (each
// goroutine empties its player's lane every 4 of its clicks).
func BenchmarkClickParallel(b *testing.B) {
	e := newEngine(b, nil)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p, err := e.join("clicker")
		if err != nil {
			b.Error(err)
			return
		}
		now := t0
		var scratch []*memPlayer
		for i := 0; pb.Next(); i++ {
			if i%40 == 0 {
				now = now.Add(time.Second)
			}
			if i%4 == 0 {
				scratch = p.lane.take(scratch[:0])
			}
			if !e.click(p, now).Counted {
				b.Error("click refused")
				return
			}
		}
	})
}

// BenchmarkClickParallelSamePlayer is one player clicking from every goroutine at once
// (many tabs): the score, best, total, last-click and window CASes all contend on one
// player. The throttle and the idle reset are lifted, because the goroutines' clocks
// drift apart and the figure is the cost of a counted click under contention; every
// click must count. Each goroutine empties the player's lane every 4 of its clicks.
func BenchmarkClickParallelSamePlayer(b *testing.B) {
	e := newEngine(b, func(c *Config) {
		c.ThrottleLimit = attemptMask - 1
		c.IdleReset = 100_000 * time.Hour
	})
	p := join(b, e, "many tabs")
	var clicks atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		now := t0
		var scratch []*memPlayer
		n := int64(0)
		for i := 0; pb.Next(); i++ {
			if i%40 == 0 {
				now = now.Add(time.Second)
			}
			if i%4 == 0 {
				scratch = p.lane.take(scratch[:0])
			}
			if !e.click(p, now).Counted {
				b.Error("click refused")
				return
			}
			n++
		}
		clicks.Add(n)
	})
	b.StopTimer()
	if got := p.total.Load(); got != clicks.Load() {
		b.Fatalf("total %d after %d counted clicks", got, clicks.Load())
	}
}

func BenchmarkState(b *testing.B) {
	e := newEngine(b, nil)
	p := join(b, e, "p")
	e.click(p, t0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.stateAt(p, t0)
	}
}

func BenchmarkGet(b *testing.B) {
	g := benchFixture(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if g.e.get(g.ids[i%benchPlayers]) == nil {
			b.Fatal("player not found")
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	g := benchFixture(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := rand.IntN(benchPlayers); pb.Next(); i++ {
			if g.e.get(g.ids[i%benchPlayers]) == nil {
				b.Error("player not found")
				return
			}
		}
	})
}

// tickGame is a bench game for BenchmarkTick1M, which changes it: each round of
// clicks takes the next 1000 players that have not clicked since the last reset.
type tickGame struct {
	*benchGame
	perm    []int // a random order of the players; rounds walk it
	next    int
	clock   time.Duration
	scratch []*memPlayer
}

// reset puts every player back to its fields at build time and rebuilds the board, so
// every player is fresh again.
func (g *tickGame) reset() {
	g.scratch = drain(g.e, g.scratch)
	for i, p := range g.players {
		r := benchRecord(g.ids[i], i, g.base)
		p.score.Store(r.Score)
		p.best.Store(r.Best)
		p.bestAt.Store(r.BestAt.UnixNano())
		p.total.Store(r.Total)
		p.lastClick.Store(r.LastClick.UnixNano())
		p.window.Store(0)
		p.violation.Store(0)
		p.nextAllowed.Store(0)
		p.bots.rateWindow.Store(0)
		p.bots.timing.Store(0)
		p.bots.lastAttempt.Store(0)
		p.bots.flaggedAt.Store(0)
		p.bots.evidence.Store(0)
	}
	g.e.Rebuild()
	g.next = 0
}

// round makes the next players click at now.
func (g *tickGame) round(b *testing.B, players int, now time.Time) {
	for j := 0; j < players; j++ {
		p := g.players[g.perm[g.next]]
		g.next++
		if !g.e.click(p, now).Counted {
			b.Fatal("click refused")
		}
	}
}

// BenchmarkTick1M times one Tick after 1000 of a million players clicked, each of them
// for the first time since the fixture was reset, so that every iteration is the same
// case:
//
// fold: the board holds players at best 1001 and the 1000 reach 1001 later than its
// last row, so none enters and the board does not change. enter: the 1000 reach 1001
// earlier than every row of the board, so the whole board is replaced (100 rows).
//
// Before each timed run the fixture is reset and one untimed round of enter puts the
// board at 1001; when the fresh players run out, it is reset again with the timer
// stopped. Every iteration checks that its tick did what the case names.
func BenchmarkTick1M(b *testing.B) {
	const changed = 1000
	base, err := newBenchGame()
	if err != nil {
		b.Fatal(err)
	}
	g := &tickGame{benchGame: base, perm: rand.New(rand.NewPCG(7, 8)).Perm(benchPlayers)}
	prime := func(b *testing.B) {
		g.reset()
		g.clock += time.Microsecond
		g.round(b, changed, g.base.Add(-time.Hour-g.clock))
		if _, ok := g.e.tick(); !ok {
			b.Fatal("the priming round did not change the board")
		}
	}
	for _, mode := range []string{"fold", "enter"} {
		b.Run(mode, func(b *testing.B) {
			prime(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if g.next+changed > benchPlayers {
					prime(b)
				}
				g.clock += time.Microsecond
				now := g.base.Add(g.clock)
				if mode == "enter" {
					now = g.base.Add(-time.Hour - g.clock)
				}
				g.round(b, changed, now)
				b.StartTimer()
				u, ok := g.e.tick()
				b.StopTimer()
				if mode == "fold" && ok {
					b.Fatalf("fold changed the board (%d rows)", len(u.Changed))
				}
				if mode == "enter" && (!ok || len(u.Changed) != g.e.cfg.BoardSize) {
					b.Fatalf("enter changed %d rows, want the whole board", len(u.Changed))
				}
				b.StartTimer()
			}
		})
	}
}
