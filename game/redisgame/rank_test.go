package redisgame

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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
				if _, err := b.writeEntries(ctx, old); err != nil {
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
	asks := make([]rankAsk, len(ps))
	for i, p := range ps {
		asks[i] = rankAsk{id: p.ID()} // no expected member: looked up by id
	}
	ranks, err := b.readRanks(context.Background(), asks)
	if err != nil {
		t.Fatal(err)
	}
	return ranks
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

// TestClickEntryIsThePartitions: the rank entry a node builds from a click's reply,
// with no read, is the one its partition holds (the same member, best and change
// counter), for a click that moved the player and for one that hid it.
func TestClickEntryIsThePartitions(t *testing.T) {
	r := testutil.StartRedis(t)
	ctx := context.Background()
	cfg := game.DefaultConfig()
	// One attempt a second flags a bot, and a flagged bot is hidden: the second click
	// of a burst hides the player.
	cfg.Bots.Rate, cfg.Bots.Window, cfg.Bots.Action = 1, time.Second, game.BotHide
	b := openGame(t, r.URL(), func() { r.Command("FLUSHALL") }, cfg, 1)[0]
	p, err := b.Join(ctx, "Ærøskøbing ünïcode")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		name   string
		ranked bool
	}{{"first click, a new best", true}, {"second click, hidden", false}} {
		if _, err := b.Click(ctx, p); err != nil {
			t.Fatal(err)
		}
		known, unread := b.rankDirty.take(rankRound)
		if len(known) != 1 || len(unread) != 0 {
			t.Fatalf("%s: %d entries from the click and %d to read, want 1 and 0", want.name, len(known), len(unread))
		}
		read, err := b.readEntries(ctx, []uuid.UUID{p.ID()})
		if err != nil {
			t.Fatal(err)
		}
		if !known[0].click {
			t.Fatalf("%s: the entry is not marked as a click's", want.name)
		}
		if c := known[0]; c.id != read[0].id || c.q != read[0].q || c.best != read[0].best || c.member != read[0].member {
			t.Fatalf("%s: from the reply %+v, in the partition %+v", want.name, c, read[0])
		}
		if got := known[0].member != ""; got != want.ranked {
			t.Fatalf("%s: on the board %v, want %v", want.name, got, want.ranked)
		}
	}
}

// TestRanksWithAStaleMember: a node whose copy of a player is behind (another node's
// click moved it since) expects a member the set no longer holds; the rank is looked up
// by id and is still exact.
func TestRanksWithAStaleMember(t *testing.T) {
	r := testutil.StartRedis(t)
	ctx := context.Background()
	b := openGame(t, r.URL(), func() { r.Command("FLUSHALL") }, game.DefaultConfig(), 1)[0]
	ps := make([]game.Player, 8)
	for i := range ps {
		p, err := b.Join(ctx, fmt.Sprintf("s%d", i))
		if err != nil {
			t.Fatal(err)
		}
		for range i + 1 {
			if _, err := b.Click(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		ps[i] = p
	}
	if _, _, err := b.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	for name, member := range map[string]func(p *player) string{
		"stale":    func(p *player) string { return boardMember(1, p.flipped, p.Handle()) },
		"expected": (*player).expectedMember,
	} {
		asks := make([]rankAsk, len(ps))
		for i, gp := range ps {
			asks[i] = rankAsk{id: gp.ID(), member: member(redisPlayer(gp))}
		}
		got, err := b.readRanks(ctx, asks)
		if err != nil {
			t.Fatal(err)
		}
		if want := truth(t, b, ps); !equalRanks(got, want) {
			t.Fatalf("%s member:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// TestClickEntryAfterARemoval: a click's entry synced after its player was removed
// (a moderator on another node, between the click and this node's sync) must not rank
// the removed player again: the set does not hold the player, so the entry is read
// from the partition instead and found gone.
func TestClickEntryAfterARemoval(t *testing.T) {
	r := testutil.StartRedis(t)
	ctx := context.Background()
	nodes := openGame(t, r.URL(), func() { r.Command("FLUSHALL") }, game.DefaultConfig(), 2)
	a, mod := nodes[0], nodes[1]
	for _, tc := range []struct {
		name   string
		ranked bool // whether the player was in the set before the click
	}{{"first best", false}, {"a later best", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Join(ctx, "gone")
			if err != nil {
				t.Fatal(err)
			}
			if tc.ranked {
				if _, err := a.Click(ctx, p); err != nil {
					t.Fatal(err)
				}
				if err := a.flushRanks(ctx); err != nil {
					t.Fatal(err)
				}
				if mustCommand(t, r, "HEXISTS", keyRankIDs, p.ID().String()) != "1" {
					t.Fatal("the player was not ranked before the click")
				}
			}
			if _, err := a.Click(ctx, p); err != nil {
				t.Fatal(err)
			}
			if _, err := mod.Remove(ctx, p.ID()); err != nil {
				t.Fatal(err)
			}
			if err := a.flushRanks(ctx); err != nil {
				t.Fatal(err)
			}
			if got := mustCommand(t, r, "HEXISTS", keyRankIDs, p.ID().String()); got != "0" {
				t.Fatal("the removed player has an entry in the rank set")
			}
			if got := mustCommand(t, r, "ZCARD", keyRanks); got != "0" {
				t.Fatalf("%s players ranked, want 0", got)
			}
		})
	}
}

func TestRankShare(t *testing.T) {
	for _, tc := range []struct {
		name                string
		budget, mine, total int64
		want                int
	}{
		{"one node", 2000, 15000, 15000, 2000},
		{"three equal nodes", 2000, 15000, 45000, 666},
		{"a node with a tenth", 2000, 4500, 45000, 200},
		{"a node with almost none", 2000, 10, 45000, 100},
		{"the heartbeat behind the node's own count", 2000, 20, 12, 2000},
		{"no heartbeat yet", 2000, 5, 0, 2000},
		{"a budget under the floor", 50, 1, 1000, 50},
	} {
		if got := rankShare(tc.budget, tc.mine, tc.total); got != tc.want {
			t.Errorf("%s: rankShare(%d, %d, %d) = %d, want %d", tc.name, tc.budget, tc.mine, tc.total, got, tc.want)
		}
	}
}

// TestRankDirtyTakesARound: a sync takes at most its limit, the clicks' entries first,
// and leaves the rest queued for the next one.
func TestRankDirtyTakesARound(t *testing.T) {
	var d rankDirty
	var all []uuid.UUID
	for i := range 5 {
		id := uuid.New()
		d.add(rankEntry{id: id, q: int64(i), click: true})
		all = append(all, id)
	}
	d.add(rankEntry{id: all[0], q: 0, best: "stale"}) // an older reading of a queued player
	for range 3 {
		id := uuid.New()
		d.addUnread(id)
		all = append(all, id)
	}
	seen := make(map[uuid.UUID]int)
	for round, want := range []struct{ known, unread int }{{4, 0}, {1, 3}, {0, 0}} {
		known, unread := d.take(4)
		if len(known) != want.known || len(unread) != want.unread {
			t.Fatalf("round %d: took %d entries and %d to read, want %d and %d", round, len(known), len(unread), want.known, want.unread)
		}
		for _, e := range known {
			if e.best == "stale" {
				t.Fatal("an older reading replaced a later one")
			}
			seen[e.id]++
		}
		for _, id := range unread {
			seen[id]++
		}
	}
	for _, id := range all {
		if seen[id] != 1 {
			t.Fatalf("%s taken %d times, want once", id, seen[id])
		}
	}
}

// TestRankSyncFailureKeepsTheBoard: with the rank work's client gone (a sync that
// cannot finish), the Tick still publishes the board, and the changes stay queued.
func TestRankSyncFailureKeepsTheBoard(t *testing.T) {
	r := testutil.StartRedis(t)
	ctx := context.Background()
	mustCommand(t, r, "FLUSHALL")
	var logs testutil.SyncBuffer
	b, err := Open(ctx, Options{URL: r.URL(), Rules: game.DefaultConfig(), Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	b.bulk.Close()
	p, err := b.Join(ctx, "still here")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Click(ctx, p); err != nil {
		t.Fatal(err)
	}
	b.lastSync.Store(0) // a sync is due
	if _, _, err := b.Tick(ctx); err != nil {
		t.Fatalf("Tick: %v", err)
	}
	if rows := b.Board().Rows; len(rows) != 1 || rows[0].ID != p.ID() {
		t.Fatalf("board %+v, want the player who clicked", rows)
	}
	// The background sync fails and says so; what it took goes back in the queue.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "rank sync failed"); {
		if time.Now().After(deadline) {
			t.Fatalf("no failed sync logged; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.rankDirty.mu.Lock()
	n := len(b.rankDirty.known)
	b.rankDirty.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d entries queued after the failed sync, want the click's", n)
	}
}
