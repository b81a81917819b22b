package server

import (
	"encoding/json"
	"errors"
	"net"
	"testing"
	"time"
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
