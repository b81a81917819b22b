package gametest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
)

// The rules of Ranks: a player's rank is 1 + the players with a strictly higher best,
// so ties share it; Of counts the players on the ranking (a best above 0, not hidden);
// the neighbours are the players next to the player in the board's order, each with
// its own shared rank. A small board (5 rows) puts most players far below it.

// oracleRanks computes every player's Rank from Find, the slow way.
func (s *suite) oracleRanks(ps []game.Player) []game.Rank {
	s.t.Helper()
	out, err := OracleRanks(ctx, s.b, ps)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// OracleRanks computes the Rank of every player of ps the slow way, from every player
// Find lists: what Backend.Ranks must answer. Backends' own tests use it too.
func OracleRanks(ctx context.Context, b game.Backend, ps []game.Player) ([]game.Rank, error) {
	infos, _, err := b.Find(ctx, nil, 0, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("oracle ranks: Find: %w", err)
	}
	var rows []game.Row
	for _, in := range infos {
		if in.Best > 0 && in.Banned == nil {
			rows = append(rows, game.Row{ID: in.ID, Handle: in.Handle, Best: in.Best, BestAt: in.BestAt.UnixNano()})
		}
	}
	slices.SortFunc(rows, game.CompareRows)
	rankOf := func(best int64) int64 {
		n := int64(1)
		for _, r := range rows {
			if r.Best > best {
				n++
			}
		}
		return n
	}
	out := make([]game.Rank, len(ps))
	for i, p := range ps {
		out[i] = game.Rank{Of: int64(len(rows))}
		pos := slices.IndexFunc(rows, func(r game.Row) bool { return r.ID == p.ID() })
		if pos < 0 {
			continue
		}
		me := rows[pos]
		out[i].Rank, out[i].Best = rankOf(me.Best), me.Best
		for j := max(pos-game.Neighbours, 0); j < pos; j++ {
			out[i].Above = append(out[i].Above, game.RankedRow{Row: rows[j], Rank: rankOf(rows[j].Best)})
		}
		for j := pos + 1; j < min(pos+1+game.Neighbours, len(rows)); j++ {
			out[i].Below = append(out[i].Below, game.RankedRow{Row: rows[j], Rank: rankOf(rows[j].Best)})
		}
	}
	return out, nil
}

// sameRows compares neighbours by what a player sees of them.
func sameRows(a, b []game.RankedRow) bool {
	return slices.EqualFunc(a, b, func(x, y game.RankedRow) bool {
		return x.ID == y.ID && x.Handle == y.Handle && x.Best == y.Best && x.Rank == y.Rank
	})
}

func rankString(r game.Rank) string {
	f := func(rows []game.RankedRow) []string {
		out := make([]string, len(rows))
		for i, x := range rows {
			out[i] = fmt.Sprintf("#%d %s=%d", x.Rank, x.Handle, x.Best)
		}
		return out
	}
	return fmt.Sprintf("#%d of %d (best %d) above %v below %v", r.Rank, r.Of, r.Best, f(r.Above), f(r.Below))
}

// wantRanks checks every node's Ranks of ps (each node with its own handles) against
// the oracle.
func (s *suite) wantRanks(ps []game.Player, when string) {
	s.t.Helper()
	s.tick()
	want := s.oracleRanks(ps)
	for n, b := range s.nodes {
		on := make([]game.Player, len(ps))
		for i, p := range ps {
			on[i] = s.on(n, p)
		}
		got := make([]game.Rank, len(ps))
		if err := b.Ranks(ctx, on, got); err != nil {
			s.t.Fatalf("%s: node %d: Ranks: %v", when, n, err)
		}
		for i := range ps {
			g, w := got[i], want[i]
			if g.Rank != w.Rank || g.Of != w.Of || g.Best != w.Best || !sameRows(g.Above, w.Above) || !sameRows(g.Below, w.Below) {
				s.t.Fatalf("%s: node %d, %s:\n got %s\nwant %s", when, n, ps[i].Handle(), rankString(g), rankString(w))
			}
		}
	}
}

func testRanks(s *suite) {
	s.start(2, func(c *game.Config) { c.BoardSize = 5 })
	rng := rand.New(rand.NewPCG(9, 9))
	var ps []game.Player
	for i := range 30 {
		ps = append(ps, s.joinOn(i%2, fmt.Sprintf("r%02d", i)))
	}
	s.wantRanks(ps, "nobody clicked")
	for round := range 6 {
		// Everyone who clicks in a round clicks in the same microsecond: equal bests
		// reached at once tie down to the id.
		s.advance(time.Second)
		for i, p := range ps {
			if i == 0 {
				continue // one player never clicks: not on the ranking
			}
			for range rng.IntN(4) {
				s.clickOn(s.nodes[rng.IntN(2)], s.on(rng.IntN(2), p))
			}
		}
		s.wantRanks(ps, fmt.Sprintf("round %d", round))
	}
	// A player far down climbs past the one just above: both ranks move.
	got := make([]game.Rank, 1)
	last := ps[len(ps)-1]
	if err := s.b.Ranks(ctx, []game.Player{last}, got); err != nil {
		s.t.Fatal(err)
	}
	if len(got[0].Above) > 0 {
		target := got[0].Above[len(got[0].Above)-1].Best
		for s.state(last).Best <= target {
			s.advance(time.Second)
			s.counted(last)
		}
		s.wantRanks(ps, "after climbing past a neighbour")
	}
	// A banned player leaves the ranking; an unban brings it back.
	banned := ps[3]
	if err := s.b.Ban(ctx, banned.ID(), "rank test"); err != nil {
		s.t.Fatal(err)
	}
	s.wantRanks(ps, "after a ban")
	if err := s.b.Ranks(ctx, []game.Player{banned}, got); err != nil || got[0].Rank != 0 {
		s.t.Fatalf("banned player ranked: %s, %v", rankString(got[0]), err)
	}
	if err := s.b.Unban(ctx, banned.ID()); err != nil {
		s.t.Fatal(err)
	}
	s.wantRanks(ps, "after the unban")
	// A moderator's reset takes the best off the ranking.
	if err := s.b.Reset(ctx, s.on(0, ps[5])); err != nil {
		s.t.Fatal(err)
	}
	s.wantRanks(ps, "after a reset")
	// A moderator's rename moves the player's entry (the handle is part of what the
	// neighbours show), on a node other than the one it clicked on last.
	renamed := s.on(1, ps[7])
	if _, err := s.nodes[1].LockHandle(ctx, renamed, "renamed7"); err != nil {
		s.t.Fatal(err)
	}
	s.wantRanks(ps, "after a moderator's rename")
	// A removed player leaves the ranking and every neighbour list.
	if _, err := s.b.Remove(ctx, ps[9].ID()); err != nil {
		s.t.Fatal(err)
	}
	s.wantRanks(append(ps[:9:9], ps[10:]...), "after a removal")
}
