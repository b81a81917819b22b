package game

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkRank1M times the rank and neighbours of one player among a million, as
// Backend.Ranks answers it.
func BenchmarkRank1M(b *testing.B) {
	g := benchFixture(b)
	g.e.tick()
	perm := benchPerm()
	ctx := context.Background()
	ps := make([]Player, 1)
	out := make([]Rank, 1)
	if err := g.e.Ranks(ctx, ps[:0], out[:0]); err != nil { // file what others left queued
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ps[0] = g.players[perm[i%benchPlayers]]
		if err := g.e.Ranks(ctx, ps, out); err != nil || out[0].Rank == 0 {
			b.Fatalf("rank %+v, %v", out[0], err)
		}
	}
}

// BenchmarkRanks15kOf1M times one refresh of the ranks of 15,000 connected players
// among a million: what the server asks of the backend once a second.
func BenchmarkRanks15kOf1M(b *testing.B) {
	const connected = 15_000
	g := benchFixture(b)
	g.e.tick()
	perm := benchPerm()
	ctx := context.Background()
	ps := make([]Player, connected)
	for i := range ps {
		ps[i] = g.players[perm[i]]
	}
	out := make([]Rank, connected)
	if err := g.e.Ranks(ctx, ps, out); err != nil { // file what others left queued
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := g.e.Ranks(ctx, ps, out); err != nil || out[connected-1].Rank == 0 {
			b.Fatalf("rank %+v, %v", out[connected-1], err)
		}
	}
}

// BenchmarkRanksRefresh15kOf1M is one second of the server's rank refresh at a million
// players: ten ticks with 1,000 players clicked each (untimed), then the timed Ranks
// call for 15,000 connected players, which first files the 10,000 changed players in
// the index.
func BenchmarkRanksRefresh15kOf1M(b *testing.B) {
	const connected, changed, ticks = 15_000, 1000, 10
	// Its own game: it clicks, and the shared fixture must stay as built.
	g, err := newBenchGame()
	if err != nil {
		b.Fatal(err)
	}
	g.e.tick()
	perm := benchPerm()
	var clock time.Duration
	next := 0
	ctx := context.Background()
	ps := make([]Player, connected)
	for i := range ps {
		ps[i] = g.players[perm[i]]
	}
	out := make([]Rank, connected)
	if err := g.e.Ranks(ctx, ps, out); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for range ticks {
			clock += time.Microsecond
			now := g.base.Add(clock)
			for range changed {
				p := g.players[perm[next]]
				next = (next + 1) % benchPlayers
				if !g.e.click(p, now).Counted {
					b.Fatal("click refused")
				}
			}
			g.e.tick()
		}
		b.StartTimer()
		if err := g.e.Ranks(ctx, ps, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRankRebuild1M times building the rank index from a full scan of a million
// players, which Rebuild adds to the start-up after a snapshot is loaded.
func BenchmarkRankRebuild1M(b *testing.B) {
	g := benchFixture(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.e.rankMu.Lock()
		g.e.rebuildRanks()
		g.e.rankMu.Unlock()
	}
}

// BenchmarkClickBelowBoard is BenchmarkClick for a player below a full board, whose
// rising best queues it for the rank index instead of the board: the click path the
// index added to.
func BenchmarkClickBelowBoard(b *testing.B) {
	e := newEngine(b, func(c *Config) { c.BoardSize = 1 })
	top := join(b, e, "top")
	top.best.Store(1 << 40)
	top.total.Store(1 << 40)
	top.bestAt.Store(1)
	e.queue(top)
	if _, ok := e.tick(); !ok || e.threshold.Load() != 1<<40 {
		b.Fatal("the board is not full")
	}
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

// benchPerm is a fixed random order of the bench game's players.
func benchPerm() []int { return rand.New(rand.NewPCG(3, 4)).Perm(benchPlayers) }
