package redisgame

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/game/gametest"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/google/uuid"
)

// TestRankSetDrift: the game-wide rank set is derived data. Each case damages it the
// way a real fault would, checks that a read without sync sees the damage (so the
// case tests something), then that what repairs it gives every player the rank a
// fresh set gives.
func TestRankSetDrift(t *testing.T) {
	r := testutil.StartRedis(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		damage func(t *testing.T, b *Backend, ps []game.Player)
		// repair returns the node whose answers must match again; nil when the damage
		// must not show at all.
		repair func(t *testing.T, b *Backend, ps []game.Player) *Backend
	}{
		{
			name: "set missing: a Redis of an earlier version is rebuilt at Open",
			damage: func(t *testing.T, b *Backend, _ []game.Player) {
				mustCommand(t, r, "DEL", keyRanks, keyRankIDs)
			},
			repair: func(t *testing.T, _ *Backend, _ []game.Player) *Backend {
				nb, err := Open(ctx, Options{URL: r.URL(), Rules: game.DefaultConfig(), Log: slog.New(slog.DiscardHandler), RankSync: -1})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { nb.Close() })
				return nb
			},
		},
		{
			name: "entry lost: a node died between a click and its sync; the refresh repairs",
			damage: func(t *testing.T, b *Backend, ps []game.Player) {
				id := ps[len(ps)-1].ID().String()
				cur := mustCommand(t, r, "HGET", keyRankIDs, id)
				_, m, _ := cutSpace(cur)
				mustCommand(t, r, "ZREM", keyRanks, m)
				mustCommand(t, r, "HDEL", keyRankIDs, id)
			},
			repair: func(t *testing.T, b *Backend, ps []game.Player) *Backend {
				if err := b.Ranks(ctx, ps, make([]game.Rank, len(ps))); err != nil {
					t.Fatal(err)
				}
				return b
			},
		},
		{
			name: "late reading: an older state synced after a newer one loses",
			damage: func(t *testing.T, b *Backend, ps []game.Player) {
				p := ps[len(ps)-1]
				old, err := b.readEntries(ctx, []uuid.UUID{p.ID()})
				if err != nil {
					t.Fatal(err)
				}
				for range 3 { // a new best, synced at the tick
					if _, err := b.Click(ctx, p); err != nil {
						t.Fatal(err)
					}
				}
				if _, _, err := b.Tick(ctx); err != nil {
					t.Fatal(err)
				}
				// The older reading, as a slow node would send it, must not win.
				if err := b.writeEntries(ctx, old); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := openGame(t, r.URL(), func() { r.Command("FLUSHALL") }, game.DefaultConfig(), 1)[0]
			ps := make([]game.Player, 40)
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
			if _, _, err := b.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, b, ps)
			if tc.repair == nil {
				if got, want := unsyncedRanks(t, b, ps), truth(t, b, ps); !equalRanks(got, want) {
					t.Fatalf("the older reading won:\n got %+v\nwant %+v", got, want)
				}
				return
			}
			if damaged := unsyncedRanks(t, b, ps); equalRanks(damaged, truth(t, b, ps)) {
				t.Fatal("the damage did not show: the case tests nothing")
			}
			nb := tc.repair(t, b, ps)
			if got, want := unsyncedRanks(t, nb, ps), truth(t, nb, ps); !equalRanks(got, want) {
				t.Fatalf("after the repair:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// unsyncedRanks reads the set as it is, without syncing the players first.
func unsyncedRanks(t *testing.T, b *Backend, ps []game.Player) []game.Rank {
	t.Helper()
	ids := make([]uuid.UUID, len(ps))
	for i, p := range ps {
		ids[i] = p.ID()
	}
	entries, err := b.readEntries(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	ranks, err := b.readRanks(context.Background(), entries)
	if err != nil {
		t.Fatal(err)
	}
	byID := make(map[uuid.UUID]game.Rank)
	for i, e := range entries {
		byID[e.id] = ranks[i]
	}
	out := make([]game.Rank, len(ps))
	for i, p := range ps {
		out[i] = byID[p.ID()]
	}
	return out
}

// truth ranks the players the slow way, with the conformance suite's oracle.
func truth(t *testing.T, b *Backend, ps []game.Player) []game.Rank {
	t.Helper()
	out, err := gametest.OracleRanks(context.Background(), b, ps)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalRanks(a, b []game.Rank) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func mustCommand(t *testing.T, r *testutil.Redis, args ...string) string {
	t.Helper()
	out, err := r.Command(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out
}

func cutSpace(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestRanksSyncsChanged: a refresh copies this node's changed players into the rank
// set along with the players asked about, and takes the Tick's place: a player who
// clicked but was not asked about is ranked at the new best after it, with no Tick.
func TestRanksSyncsChanged(t *testing.T) {
	r := testutil.StartRedis(t)
	ctx := context.Background()
	mustCommand(t, r, "FLUSHALL")
	b, err := Open(ctx, Options{URL: r.URL(), Rules: game.DefaultConfig(), Log: slog.New(slog.DiscardHandler), RankSync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ps := make([]game.Player, 6)
	for i := range ps {
		if ps[i], err = b.Join(ctx, fmt.Sprintf("p%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := b.Tick(ctx); err != nil { // the first Tick syncs: no sync before it
		t.Fatal(err)
	}
	asked, clicked := ps[:2], ps[2:]
	for i, p := range clicked {
		for range i + 1 {
			if _, err := b.Click(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, _, err := b.Tick(ctx); err != nil { // RankSync is an hour: no sync here
		t.Fatal(err)
	}
	if got, want := unsyncedRanks(t, b, clicked), truth(t, b, clicked); equalRanks(got, want) {
		t.Fatal("the clicks were synced before Ranks: the test tests nothing")
	}
	if b.rankedSync.Load() {
		t.Fatal("rankedSync set before any Ranks")
	}
	if err := b.Ranks(ctx, asked, make([]game.Rank, len(asked))); err != nil {
		t.Fatal(err)
	}
	if got, want := unsyncedRanks(t, b, clicked), truth(t, b, clicked); !equalRanks(got, want) {
		t.Fatalf("after Ranks of other players:\n got %+v\nwant %+v", got, want)
	}
	if !b.rankedSync.Load() {
		t.Fatal("Ranks synced changed players but the Tick was not told")
	}
	// The players asked about still get their own ranks, in their order.
	out := make([]game.Rank, len(ps))
	if _, err := b.Click(ctx, ps[0]); err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(ps)
	slices.Reverse(rev)
	if err := b.Ranks(ctx, rev, out); err != nil {
		t.Fatal(err)
	}
	if want := truth(t, b, rev); !equalRanks(out, want) {
		t.Fatalf("Ranks:\n got %+v\nwant %+v", out, want)
	}
}

func TestSyncDue(t *testing.T) {
	const s = int64(time.Second)
	for _, tc := range []struct {
		name      string
		now, last int64
		every     time.Duration
		ranked    bool
		want      bool
	}{
		{"every tick", 0, 0, -1, false, true},
		{"every tick, ranked", 0, 0, -1, true, true},
		{"before the interval", 9 * s / 10, 0, time.Second, false, false},
		{"at the interval", s, 0, time.Second, false, true},
		{"Ranks synced: the interval is not enough", 3 * s / 2, 0, time.Second, true, false},
		{"Ranks stopped: twice the interval", 2 * s, 0, time.Second, true, true},
		{"never synced", 5 * s, 0, time.Second, false, true},
	} {
		if got := syncDue(tc.now, tc.last, tc.every, tc.ranked); got != tc.want {
			t.Errorf("%s: syncDue(%d, %d, %v, %v) = %v, want %v", tc.name, tc.now, tc.last, tc.every, tc.ranked, got, tc.want)
		}
	}
}
