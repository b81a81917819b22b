package redisgame

import (
	"context"
	"fmt"
	"testing"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
)

// TestRanksBudget: one call asks Redis about at most rankBudget players, those never
// answered first; the next call refreshes the rest, and from then on every answer is
// what an unbounded read says.
func TestRanksBudget(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := openGame(t, r.URL(), func() { r.Command("FLUSHALL") }, game.DefaultConfig(), 1)
	b := nodes[0]
	ctx := context.Background()
	n := rankBudget + 40
	ps := make([]game.Player, n)
	for i := range ps {
		p, err := b.Join(ctx, fmt.Sprintf("p%d", i))
		if err != nil {
			t.Fatal(err)
		}
		for range i % 7 {
			if _, err := b.Click(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		ps[i] = p
	}
	want := make([]game.Rank, n)
	if err := b.ranksOf(ctx, ps, want); err != nil {
		t.Fatal(err)
	}
	got := make([]game.Rank, n)
	if err := b.Ranks(ctx, ps, got); err != nil {
		t.Fatal(err)
	}
	answered := 0
	for i := range got {
		if got[i].Equal(want[i]) {
			answered++
		}
	}
	if answered < rankBudget || answered == n {
		t.Fatalf("first call answered %d of %d players, want at least the budget %d and not all", answered, n, rankBudget)
	}
	if err := b.Ranks(ctx, ps, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Fatalf("player %d after two calls: %+v, want %+v", i, got[i], want[i])
		}
	}
}
