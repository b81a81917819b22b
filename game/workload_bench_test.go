package game

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The leaderboard workload that bench/redis runs against a Redis sorted set, here
// against the engine in process: random clicks over many players (count the click,
// keep each player's best) and, once every workloadTick clicks (500 = 5,000 clicks a
// second at the default 100 ms tick), fold the changes and read the top 100.
// docs/benchmarks.md compares the two per click; bench/run-*.sh run both back to back.
const (
	workloadPlayers = 100_000
	workloadTick    = 500
)

func BenchmarkLeaderboardWorkload(b *testing.B) {
	e, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	players := make([]*memPlayer, workloadPlayers)
	for i := range players {
		if players[i], err = e.join(fmt.Sprintf("w%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	order := make([]int32, 1<<20)
	for i := range order {
		order[i] = int32(rng.IntN(workloadPlayers))
	}
	now := time.Unix(1_700_000_000, 0)
	var rows int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%workloadPlayers == 0 {
			now = now.Add(time.Second) // about one click per player per second
		}
		e.click(players[order[i&(len(order)-1)]], now)
		if i%workloadTick == workloadTick-1 {
			e.tick()
			rows += len(e.Board().Rows)
		}
	}
	if b.N >= workloadTick && rows == 0 {
		b.Fatal("empty board")
	}
}
