package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
)

// rankOf reads frames until a rank frame satisfies ok.
func (s *socket) rankOf(ok func(rankFrame) bool) rankFrame {
	s.t.Helper()
	for {
		f := s.until("rank", nil)
		raw, _ := json.Marshal(f)
		var r rankFrame
		if err := json.Unmarshal(raw, &r); err != nil {
			s.t.Fatal(err)
		}
		if ok(r) {
			return r
		}
	}
}

func TestRankFrameFollowsThePlayer(t *testing.T) {
	ts := newTestServer(t)
	a, b := ts.newPlayer(t), ts.newPlayer(t)
	a.join("alice")
	bob := b.join("bob")
	sa, sb := a.dial(), b.dial()
	for range 3 {
		sa.send(`{"type":"click"}`)
		sa.until("state", nil)
	}
	sb.send(`{"type":"click"}`)
	sb.until("state", nil)

	r := sb.rankOf(func(r rankFrame) bool { return r.Rank == 2 })
	if r.Of != 2 || r.Best != 1 || len(r.Above) != 1 || r.Above[0].Handle != "alice" || r.Above[0].Rank != 1 ||
		r.Above[0].Best != 3 || len(r.Below) != 0 {
		t.Fatalf("bob's rank frame %+v", r)
	}
	// Bob climbs past Alice: both frames move.
	for range 3 {
		sb.send(`{"type":"click"}`)
		sb.until("state", nil)
	}
	r = sb.rankOf(func(r rankFrame) bool { return r.Rank == 1 })
	if r.Best != 4 || len(r.Below) != 1 || r.Below[0].Handle != "alice" || r.Below[0].Rank != 2 {
		t.Fatalf("bob's rank after climbing %+v", r)
	}
	ra := sa.rankOf(func(r rankFrame) bool { return r.Rank == 2 })
	if len(ra.Above) != 1 || ra.Above[0].Tag != bob["tag"] {
		t.Fatalf("alice's rank %+v, want bob (%v) above", ra, bob["tag"])
	}

	// Nothing changes: no more rank frames, though refreshes go on every second.
	sb.conn.SetReadDeadline(time.Now().Add(2500 * time.Millisecond))
	for {
		_, msg, err := sb.conn.ReadMessage()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		json.Unmarshal(msg, &f)
		if f["type"] == "rank" {
			t.Fatalf("a rank frame though nothing changed: %s", msg)
		}
	}
}

// A player with no best yet is not on the ranking: rank 0, and the number of players
// who are.
func TestRankFrameOfANewPlayer(t *testing.T) {
	ts := newTestServer(t)
	a, b := ts.newPlayer(t), ts.newPlayer(t)
	a.join("alice")
	b.join("bob")
	sa := a.dial()
	sa.send(`{"type":"click"}`)
	sa.until("state", nil)
	sb := b.dial()
	r := sb.rankOf(func(rankFrame) bool { return true })
	if r.Rank != 0 || r.Of != 1 || len(r.Above) != 0 || len(r.Below) != 0 || r.Above == nil {
		t.Fatalf("new player's rank frame %+v", r)
	}
}

// TestRankBudgetRotates: a refresh under a budget asks for at most that many players,
// those asked longest ago first and never-asked ones before all, so that every
// connected player is asked in turn.
func TestRankBudgetRotates(t *testing.T) {
	e, err := game.New(game.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var all []game.Player
	for i := range 5 {
		p, err := e.Join(context.Background(), fmt.Sprintf("player %d", i))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p)
	}
	r := ranker{slot: map[uuid.UUID]int{}}
	refresh := func(ps []game.Player) []uuid.UUID {
		r.players = append(r.players[:0], ps...)
		clear(r.slot)
		for i, p := range r.players {
			r.slot[p.ID()] = i
		}
		r.budget(2)
		var ids []uuid.UUID
		for i, p := range r.players {
			if r.slot[p.ID()] != i {
				t.Fatalf("slot of %s is %d, want %d", p.ID(), r.slot[p.ID()], i)
			}
			ids = append(ids, p.ID())
		}
		return ids
	}
	asked := map[uuid.UUID]int{}
	for round := range 5 {
		ids := refresh(all)
		if len(ids) != 2 {
			t.Fatalf("round %d asked %d players, want the budget of 2", round, len(ids))
		}
		for _, id := range ids {
			asked[id]++
		}
		if round == 2 && len(asked) != 5 {
			t.Fatalf("after 3 rounds of 2, %d of 5 players were asked: %v", len(asked), asked)
		}
	}
	for _, p := range all {
		if n := asked[p.ID()]; n < 1 || n > 3 {
			t.Errorf("%s asked %d times in 5 rounds of 2 among 5", p.ID(), n)
		}
	}
	// A newcomer goes first.
	p, err := e.Join(context.Background(), "newcomer")
	if err != nil {
		t.Fatal(err)
	}
	if ids := refresh(append(all, p)); !slices.Contains(ids, p.ID()) {
		t.Fatalf("the newcomer was not asked first: %v", ids)
	}
	// Under the budget everyone is asked.
	if ids := refresh(all[:2]); len(ids) != 2 {
		t.Fatalf("2 players under a budget of 2: asked %d", len(ids))
	}
}
