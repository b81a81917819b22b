package game

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// oracleRanks computes every player's Rank the slow way: sort all rows, count.
func oracleRanks(e *Engine, ps []*memPlayer) []Rank {
	var rows []Row
	e.store.Range(func(p *memPlayer) bool {
		if r := rowOf(p); r.Best > 0 {
			rows = append(rows, r)
		}
		return true
	})
	slices.SortFunc(rows, CompareRows)
	rankOfBest := func(best int64) int64 {
		n := int64(1)
		for _, r := range rows {
			if r.Best > best {
				n++
			}
		}
		return n
	}
	out := make([]Rank, len(ps))
	for i, p := range ps {
		out[i] = Rank{Of: int64(len(rows))}
		me := rowOf(p)
		pos := slices.Index(rows, me)
		if me.Best == 0 || pos < 0 || p.removed.Load() {
			continue
		}
		out[i].Rank, out[i].Best = rankOfBest(me.Best), me.Best
		for j := max(pos-Neighbours, 0); j < pos; j++ {
			out[i].Above = append(out[i].Above, RankedRow{Row: rows[j], Rank: rankOfBest(rows[j].Best)})
		}
		for j := pos + 1; j < min(pos+1+Neighbours, len(rows)); j++ {
			out[i].Below = append(out[i].Below, RankedRow{Row: rows[j], Rank: rankOfBest(rows[j].Best)})
		}
	}
	return out
}

func checkRanks(t *testing.T, e *Engine, ps []*memPlayer, when string) {
	t.Helper()
	gps := make([]Player, len(ps))
	for i, p := range ps {
		gps[i] = p
	}
	got := make([]Rank, len(ps))
	if err := e.Ranks(context.Background(), gps, got); err != nil {
		t.Fatal(err)
	}
	want := oracleRanks(e, ps)
	for i := range ps {
		if !got[i].Equal(want[i]) {
			t.Fatalf("%s: player %d (%s, best %d):\n got %+v\nwant %+v", when, i, ps[i].id, ps[i].best.Load(), got[i], want[i])
		}
	}
}

// TestRanksAgainstOracle plays random games, many players tied, with moderation
// mixed in, and compares every player's rank and neighbours after every tick with a
// brute-force count. Blocks of 3 entries make the index split and drop blocks often.
func TestRanksAgainstOracle(t *testing.T) {
	tests := []struct {
		name      string
		players   int
		rounds    int
		board     int
		maxClicks int
	}{
		{"few players, many ties", 12, 60, 5, 3},
		{"board smaller than the game", 80, 40, 10, 6},
		{"wide spread", 200, 25, 100, 40},
	}
	for seed, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 99))
			e := newEngine(t, func(c *Config) {
				c.BoardSize = tc.board
				c.Bots.Action = BotFlag
			})
			e.ranks.block = 3
			var ps []*memPlayer
			now := t0
			for round := 0; round < tc.rounds; round++ {
				for k := rng.IntN(4); k > 0 || len(ps) == 0; k-- {
					ps = append(ps, join(t, e, fmt.Sprintf("p%d", len(ps))))
				}
				// Everyone clicking in one round clicks at the same instant: equal
				// bests reached at equal times tie down to the id.
				now = now.Add(time.Second)
				for _, p := range ps {
					if rng.IntN(3) == 0 {
						continue
					}
					for c := rng.IntN(tc.maxClicks) + 1; c > 0; c-- {
						e.click(p, now)
					}
				}
				p := ps[rng.IntN(len(ps))]
				switch rng.IntN(12) {
				case 0:
					e.reset(p)
				case 1:
					e.remove(p.id)
				case 2:
					if err := e.Ban(context.Background(), p.id, "test"); err != nil && !p.removed.Load() {
						t.Fatal(err)
					}
				case 3:
					_ = e.Unban(context.Background(), p.id) // fails unless banned
				case 4:
					if _, err := e.rename(p, fmt.Sprintf("renamed %d", round)); err != nil {
						t.Fatal(err)
					}
				}
				if round%3 == 0 {
					now = now.Add(e.cfg.IdleReset) // scores go back to 0; bests stay
				}
				e.tick()
				checkRanks(t, e, ps, fmt.Sprintf("round %d", round))
			}
			if e.ranks.n < 2 {
				t.Fatalf("only %d players ranked at the end: the test tested little", e.ranks.n)
			}
			// A rebuild from scratch gives the same ranks as the incremental index.
			e.Rebuild()
			checkRanks(t, e, ps, "after Rebuild")
		})
	}
}

// TestRanksFollowTheTick: a rank is up to date after a tick, and a player without a
// best is not on the ranking.
func TestRanksFollowTheTick(t *testing.T) {
	e := newEngine(t, nil)
	a, b := join(t, e, "a"), join(t, e, "b")
	mustClick(t, e, a, at(0))
	e.tick()
	checkRanks(t, e, []*memPlayer{a, b}, "a clicked")
	var r [2]Rank
	if err := e.Ranks(context.Background(), []Player{a, b}, r[:]); err != nil {
		t.Fatal(err)
	}
	if r[0].Rank != 1 || r[0].Of != 1 || r[1].Rank != 0 || r[1].Of != 1 {
		t.Fatalf("ranks %+v", r)
	}
	mustClick(t, e, b, at(time.Second))
	mustClick(t, e, b, at(time.Second))
	e.tick()
	if err := e.Ranks(context.Background(), []Player{a, b}, r[:]); err != nil {
		t.Fatal(err)
	}
	if r[0].Rank != 2 || r[1].Rank != 1 || r[0].Of != 2 || len(r[0].Above) != 1 || r[0].Above[0].ID != b.id {
		t.Fatalf("after the tick: %+v", r)
	}
	if err := e.Ranks(context.Background(), []Player{a}, r[:]); err == nil {
		t.Fatal("Ranks took a shorter out slice")
	}
}

// TestRanksAfterLoadingASnapshot: a game loaded from its scores file into an empty
// engine (the loaders' fast path, which merges their boards instead of scanning)
// ranks every player as the oracle does, before any tick.
func TestRanksAfterLoadingASnapshot(t *testing.T) {
	src := sampleEngine(t)
	path := filepath.Join(t.TempDir(), "scores.csv")
	if err := os.WriteFile(path, snapshot(t, src, at(time.Minute)), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, nil)
	if n, err := LoadSnapshot(path, e); err != nil || n == 0 {
		t.Fatalf("LoadSnapshot: %d, %v", n, err)
	}
	var ps []*memPlayer
	e.store.Range(func(p *memPlayer) bool {
		ps = append(ps, p)
		return true
	})
	checkRanks(t, e, ps, "after the load")
	ranked := 0
	for _, r := range oracleRanks(e, ps) {
		if r.Rank > 0 {
			ranked++
		}
	}
	if ranked < 5 {
		t.Fatalf("only %d players ranked: the sample should have more", ranked)
	}
}
