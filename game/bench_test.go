package game

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// benchGame is a game of one million players, built once and shared by the benchmarks
// that need it. Every player has score and best 1000 (reached at distinct times) and
// clicked recently, so one more click raises any player's best to at least the board's
// threshold and queues the player for the next tick.
type benchGame struct {
	e     *Engine
	ids   []uuid.UUID
	perm  []int // a random order of the players; Tick benchmarks walk it
	next  int
	base  time.Time // around the players' last clicks
	clock time.Duration
}

const benchPlayers = 1_000_000

var (
	benchOnce sync.Once
	bench     *benchGame
	benchErr  error

	benchCSVOnce sync.Once
	benchCSV     []byte
)

func benchFixture(b *testing.B) *benchGame {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		g := &benchGame{base: t0}
		e, err := New(DefaultConfig())
		if err != nil {
			benchErr = err
			return
		}
		rng := rand.New(rand.NewPCG(1, 2))
		g.ids = make([]uuid.UUID, benchPlayers)
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
			err := e.Load(Record{
				ID:        *id,
				Handle:    fmt.Sprintf("player %d", i),
				Score:     1000,
				Best:      1000,
				Total:     1000 + int64(i%5000),
				LastClick: g.base.Add(-time.Duration(i) * time.Microsecond),
				BestAt:    g.base.Add(-time.Duration(i) * time.Microsecond),
			})
			if err != nil {
				benchErr = err
				return
			}
		}
		e.Rebuild()
		g.e = e
		g.perm = rng.Perm(benchPlayers)
		bench = g
		fmt.Printf("built %d players in %s\n", benchPlayers, time.Since(start).Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

func benchSnapshot(b *testing.B) []byte {
	g := benchFixture(b)
	benchCSVOnce.Do(func() {
		var buf bytes.Buffer
		if err := writeSnapshot(&buf, g.e, g.base); err != nil {
			benchErr = err
			return
		}
		benchCSV = buf.Bytes()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchCSV
}

func BenchmarkClick(b *testing.B) {
	e := newEngine(b, nil)
	p := join(b, e, "clicker")
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%40 == 0 {
			now = now.Add(time.Second) // 40 clicks a second: never throttled
		}
		if !e.click(p, now).Counted {
			b.Fatal("click refused")
		}
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
		for i := 0; pb.Next(); i++ {
			if i%40 == 0 {
				now = now.Add(time.Second)
			}
			if !e.click(p, now).Counted {
				b.Error("click refused")
				return
			}
		}
	})
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

// BenchmarkTick1M times one Tick after 1000 random players of a million clicked.
//
// fold: time goes forward, so most clicks tie the board's last row later than it and
// are folded without entering the board. enter: every round of clicks is dated before
// the last one, so the clicked players beat the whole board and it is replaced.
func BenchmarkTick1M(b *testing.B) {
	const changed = 1000
	for _, mode := range []string{"fold", "enter"} {
		b.Run(mode, func(b *testing.B) {
			g := benchFixture(b)
			g.e.tick() // fold whatever an earlier benchmark left queued
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				g.clock += time.Microsecond
				now := g.base.Add(g.clock)
				if mode == "enter" {
					now = g.base.Add(-time.Hour - g.clock)
				}
				for j := 0; j < changed; j++ {
					p := g.e.get(g.ids[g.perm[g.next]])
					g.next = (g.next + 1) % benchPlayers
					if !g.e.click(p, now).Counted {
						b.Fatal("click refused")
					}
				}
				b.StartTimer()
				g.e.tick()
			}
		})
	}
}

func BenchmarkSnapshotWrite1M(b *testing.B) {
	g := benchFixture(b)
	b.SetBytes(int64(len(benchSnapshot(b))))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := writeSnapshot(io.Discard, g.e, g.base); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnapshotLoad1M(b *testing.B) {
	data := benchSnapshot(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		n, err := readSnapshot(bytes.NewReader(data), "bench.csv", e)
		if err != nil || n != benchPlayers {
			b.Fatalf("ReadSnapshot = %d, %v", n, err)
		}
	}
}
