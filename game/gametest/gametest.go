// Package gametest is the conformance suite of game.Backend: the rules of Click the
// Button as behaviour that every backend must show, run against each of them with
// real storage (the in-memory engine, a real redis-server), never a mock.
//
// The suite drives the rules' clock by hand (game.Config.Now) and moves it in whole
// microseconds, the finest step every backend keeps.
package gametest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/google/uuid"
)

// NewGame makes a fresh, empty game with the rules cfg and returns n nodes sharing
// it: n handles on one engine in memory, n processes' backends on one Redis. It
// arranges for their cleanup with t.Cleanup.
type NewGame func(t *testing.T, cfg game.Config, n int) []game.Backend

// Run runs the whole suite against the backend that newGame makes.
func Run(t *testing.T, newGame NewGame) {
	tests := []struct {
		name string
		run  func(*suite)
	}{
		{"ClickCounts", testClickCounts},
		{"ThrottleLimitInOneWindow", testThrottleLimit},
		{"ThrottleWindowBoundary", testThrottleWindowBoundary},
		{"ThrottleWindowStartsAtFirstAttempt", testThrottleWindowStart},
		{"ThrottleLiftsAfterQuietPenalty", testThrottleLifts},
		{"ThrottleOneClickPerPenalty", testThrottleOnePerPenalty},
		{"ThrottleRefusedAttemptsCount", testThrottleRefusedAttempts},
		{"ThrottleAgainAfterLifted", testThrottleAgain},
		{"AllTabsCountTogether", testAllTabsTogether},
		{"IdleResetKeepsBest", testIdleReset},
		{"TiesRankWhoReachedFirst", testTies},
		{"Rename", testRename},
		{"Restore", testRestore},
		{"AdminReset", testAdminReset},
		{"AdminRemove", testAdminRemove},
		{"Totals", testTotals},
		{"BoardOrderAndDeltas", testBoardOrder},
		{"BoardAcrossNodes", testBoardAcrossNodes},
		{"OnlineAndReturning", testOnlineReturning},
		{"Find", testFind},
		{"SnapshotRecords", testSnapshotRecords},
		{"BanHoldsOnEveryNode", testBan},
		{"BanOutlivesRemoval", testBanAfterRemoval},
		{"ModeratorLocksHandle", testHandleLock},
		{"BotFlaggedAndCleared", testBotFlag},
		{"BotHidden", testBotHide},
		{"BotThrottled", testBotThrottle},
		{"ForgetUnplayed", testForgetUnplayed},
		{"Ranks", testRanks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(&suite{t: t, newGame: newGame})
		})
	}
}

// t0 is where every game's clock starts.
var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

type suite struct {
	t       *testing.T
	newGame NewGame
	clock   *testutil.Clock
	nodes   []game.Backend
	b       game.Backend // nodes[0]
}

var ctx = context.Background()

// start makes the game, with the default rules changed by mod, on n nodes.
func (s *suite) start(n int, mod func(*game.Config)) {
	s.t.Helper()
	s.clock = testutil.FrozenClock(t0)
	cfg := game.DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	cfg.Now = s.clock.Now
	s.nodes = s.newGame(s.t, cfg, n)
	if len(s.nodes) != n {
		s.t.Fatalf("newGame made %d nodes, want %d", len(s.nodes), n)
	}
	s.b = s.nodes[0]
}

func (s *suite) advance(d time.Duration) { s.clock.Advance(d) }

func (s *suite) join(handle string) game.Player {
	s.t.Helper()
	p, err := s.b.Join(ctx, handle)
	if err != nil {
		s.t.Fatalf("Join(%q): %v", handle, err)
	}
	if p.Handle() != handle {
		s.t.Fatalf("Join(%q) gave handle %q", handle, p.Handle())
	}
	return p
}

// on returns p's handle as node i holds it.
func (s *suite) on(i int, p game.Player) game.Player {
	s.t.Helper()
	q, err := s.nodes[i].Get(ctx, p.ID())
	if err != nil {
		s.t.Fatalf("node %d: Get(%s): %v", i, p.ID(), err)
	}
	return q
}

func (s *suite) clickOn(b game.Backend, p game.Player) game.ClickResult {
	s.t.Helper()
	r, err := b.Click(ctx, p)
	if err != nil {
		s.t.Fatalf("Click: %v", err)
	}
	return r
}

// counted clicks p once and fails unless the click counted.
func (s *suite) counted(p game.Player) game.ClickResult {
	s.t.Helper()
	r := s.clickOn(s.b, p)
	if !r.Counted {
		s.t.Fatalf("click at %s refused: %+v", s.clock.Now().Sub(t0), r)
	}
	return r
}

// refused clicks p once and fails unless the throttle refused it with retry to wait.
func (s *suite) refused(p game.Player, retry time.Duration) game.ClickResult {
	s.t.Helper()
	r := s.clickOn(s.b, p)
	if r.Counted || !r.Throttled || r.RetryAfter != retry {
		s.t.Fatalf("click at %s: %+v, want refused with RetryAfter %s", s.clock.Now().Sub(t0), r, retry)
	}
	return r
}

// climb gives p n counted clicks a second apart.
// joinOn joins handle through node i.
func (s *suite) joinOn(i int, handle string) game.Player {
	s.t.Helper()
	p, err := s.nodes[i].Join(ctx, handle)
	if err != nil {
		s.t.Fatalf("node %d: Join(%q): %v", i, handle, err)
	}
	return p
}

// climbOn gives p n counted clicks a second apart, through node i.
func (s *suite) climbOn(i int, p game.Player, n int) {
	s.t.Helper()
	for range n {
		s.advance(time.Second)
		if r := s.clickOn(s.nodes[i], p); !r.Counted {
			s.t.Fatalf("node %d: click refused: %+v", i, r)
		}
	}
}

func (s *suite) climb(p game.Player, n int) { s.t.Helper(); s.climbOn(0, p, n) }

func (s *suite) state(p game.Player) game.State { return s.b.State(p) }

// tick runs a Tick on every node and returns node 0's board.
func (s *suite) tick() []game.Row {
	s.t.Helper()
	for i, b := range s.nodes {
		if _, _, err := b.Tick(ctx); err != nil {
			s.t.Fatalf("node %d: Tick: %v", i, err)
		}
	}
	return s.b.Board().Rows
}

func (s *suite) stats() game.Stats {
	s.t.Helper()
	s.tick()
	return s.b.Stats()
}

// boardOf is the board as handles and bests, for messages and comparisons.
func boardOf(rows []game.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%s=%d", r.Handle, r.Best)
	}
	return out
}

func (s *suite) wantBoard(want ...string) {
	s.t.Helper()
	if got := boardOf(s.tick()); !slices.Equal(got, want) {
		s.t.Fatalf("board %v, want %v", got, want)
	}
}

func testClickCounts(s *suite) {
	s.start(1, nil)
	p := s.join("alice")
	if st := s.state(p); st != (game.State{Handle: "alice"}) {
		s.t.Fatalf("new player's state %+v", st)
	}
	for i := 1; i <= 3; i++ {
		s.advance(time.Second)
		r := s.counted(p)
		if r.Score != int64(i) || r.Best != int64(i) || r.Total != int64(i) || r.Throttled || r.IdleReset {
			s.t.Fatalf("click %d: %+v", i, r)
		}
	}
	if st := s.state(p); st.Score != 3 || st.Best != 3 || st.Total != 3 {
		s.t.Fatalf("state after 3 clicks: %+v", st)
	}
	s.wantBoard("alice=3")
}

func testThrottleLimit(s *suite) {
	s.start(1, nil)
	p := s.join("bot")
	// Exactly 50 attempts in one window count, even at the same instant.
	for range 50 {
		if r := s.counted(p); r.Throttled {
			s.t.Fatalf("throttled within the limit: %+v", r)
		}
	}
	// The 51st in the same second is refused and starts a full penalty.
	s.advance(999 * time.Millisecond)
	r := s.refused(p, time.Minute)
	if r.Score != 50 || r.Best != 50 || r.Total != 50 {
		s.t.Fatalf("a refused click changed the score: %+v", r)
	}
	if st := s.state(p); !st.Throttled || st.RetryAfter != time.Minute {
		s.t.Fatalf("state after the violation: %+v", st)
	}
	if st := s.stats(); st.TotalClicks != 50 || st.Refused != 1 {
		s.t.Fatalf("stats %+v, want 50 clicks and 1 refused", st)
	}
}

func testThrottleWindowBoundary(s *suite) {
	for _, tc := range []struct {
		name    string
		second  time.Duration // when the second burst of 50 starts
		refused bool          // whether its first click is refused
	}{
		{"next window exactly 1s later", time.Second, false},
		{"next window well later", 5 * time.Second, false},
		{"1ms before the window ends", 999 * time.Millisecond, true},
		{"half way", 500 * time.Millisecond, true},
	} {
		s.t.Run(tc.name, func(t *testing.T) {
			s := &suite{t: t, newGame: s.newGame}
			s.start(1, nil)
			p := s.join("p")
			for range 50 {
				s.counted(p)
			}
			s.advance(tc.second)
			if tc.refused {
				s.refused(p, time.Minute)
				return
			}
			for range 50 {
				s.counted(p)
			}
			if st := s.state(p); st.Score != 100 || st.Throttled {
				t.Fatalf("after two windows of 50: %+v", st)
			}
		})
	}
}

func testThrottleWindowStart(s *suite) {
	// Windows are not aligned to clock seconds: one starts at the first attempt after
	// the previous one ended.
	s.start(1, nil)
	p := s.join("p")
	s.counted(p) // window [0, 1s)
	s.advance(1500 * time.Millisecond)
	for range 50 {
		s.counted(p) // window [1.5s, 2.5s)
	}
	s.advance(900 * time.Millisecond) // 2.4s: attempt 51 of that window
	s.refused(p, time.Minute)

	q := s.join("q")
	s.advance(10 * time.Minute) // q's own clock: its windows start at its attempts
	for range 50 {
		s.counted(q)
	}
	s.advance(time.Second) // exactly one window later: a new one
	for range 50 {
		s.counted(q)
	}

	// Spread out: 50 attempts over 0.98 s, then the next window starts at 1 s and its
	// 51st attempt, at 1.999 s, is refused.
	r := s.join("r")
	s.advance(10 * time.Minute)
	for i := range 50 {
		if i > 0 {
			s.advance(20 * time.Millisecond)
		}
		s.counted(r)
	}
	s.advance(20 * time.Millisecond)
	for i := range 50 {
		if i > 0 {
			s.advance(20 * time.Millisecond)
		}
		s.counted(r)
	}
	s.advance(19 * time.Millisecond)
	s.refused(r, time.Minute)
}

// violate makes 51 attempts now; the last exceeds the limit.
func (s *suite) violate(p game.Player) (counted int) {
	s.t.Helper()
	for range 51 {
		if s.clickOn(s.b, p).Counted {
			counted++
		}
	}
	return counted
}

func testThrottleLifts(s *suite) {
	s.start(1, nil)
	p := s.join("p")
	if n := s.violate(p); n != 50 {
		s.t.Fatalf("%d of the first 51 counted", n)
	}
	// Throttled for one minute: every attempt is refused and the wait counts down.
	elapsed := time.Duration(0)
	for _, d := range []time.Duration{time.Second, 10 * time.Second, 30*time.Second + time.Microsecond, 59 * time.Second, time.Minute - time.Microsecond} {
		s.advance(d - elapsed)
		elapsed = d
		s.refused(p, time.Minute-d)
	}
	// A full quiet minute after the violation (the refused attempts above were few, so
	// none was a violation of its own) the throttle is gone.
	s.advance(time.Microsecond)
	if st := s.state(p); st.Throttled || st.RetryAfter != 0 {
		s.t.Fatalf("state after a quiet minute: %+v", st)
	}
	if r := s.counted(p); r.Throttled || r.Score != 51 {
		s.t.Fatalf("first click after the throttle: %+v", r)
	}
	for range 49 {
		s.advance(time.Millisecond)
		s.counted(p)
	}
	if st := s.state(p); st.Score != 100 || st.Throttled {
		s.t.Fatalf("back to normal: %+v", st)
	}
}

func testThrottleOnePerPenalty(s *suite) {
	// A bot that never stops gets exactly one counted click per penalty and is never
	// let off; 51 refused attempts in a window extend the throttle.
	s.start(1, func(c *game.Config) { c.ThrottlePenalty = 10 * time.Second })
	p := s.join("bot")
	s.violate(p)
	var countedAt []time.Duration
	for sec := 1; sec < 35; sec++ {
		for i := range 60 {
			at := time.Duration(sec)*time.Second + time.Duration(i)*10*time.Millisecond
			s.advance(at - s.clock.Now().Sub(t0))
			r := s.clickOn(s.b, p)
			if !r.Throttled {
				s.t.Fatalf("not throttled at %s: %+v", at, r)
			}
			if r.Counted {
				countedAt = append(countedAt, at)
			} else if r.RetryAfter <= 0 {
				s.t.Fatalf("refused at %s with RetryAfter %s", at, r.RetryAfter)
			}
		}
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second}
	if !slices.Equal(countedAt, want) {
		s.t.Fatalf("counted at %v, want %v", countedAt, want)
	}
	if st := s.state(p); st.Total != 53 || !st.Throttled {
		s.t.Fatalf("state %+v", st)
	}
}

func testThrottleRefusedAttempts(s *suite) {
	// 50 refused attempts in a window while throttled are not a violation...
	s.start(1, nil)
	p := s.join("p")
	s.violate(p)
	s.advance(30 * time.Second)
	for range 50 {
		s.refused(p, 30*time.Second)
	}
	s.advance(30 * time.Second)
	s.counted(p)
	if st := s.state(p); st.Throttled {
		s.t.Fatalf("50 attempts in a window extended the throttle: %+v", st)
	}

	// ...but 51 are, though none counted: the throttle lasts a full penalty after the
	// last violation, with one click per penalty counting meanwhile.
	q := s.join("q")
	s.advance(time.Hour)
	s.violate(q)
	s.advance(30 * time.Second)
	if n := s.violate(q); n != 0 {
		s.t.Fatalf("%d clicks counted while throttled", n)
	}
	if st := s.state(q); !st.Throttled || st.RetryAfter != 30*time.Second {
		s.t.Fatalf("after a violation while throttled: %+v", st)
	}
	s.advance(30 * time.Second) // a penalty after the first violation
	if r := s.counted(q); !r.Throttled || r.Score != 51 {
		s.t.Fatalf("the one click of the penalty: %+v", r)
	}
	s.advance(time.Microsecond)
	s.refused(q, 30*time.Second-time.Microsecond)
	s.advance(time.Second - time.Microsecond)
	s.refused(q, 29*time.Second)
	s.advance(29*time.Second - time.Microsecond)
	s.refused(q, time.Microsecond)
	s.advance(time.Microsecond) // a full penalty after the last violation
	if r := s.counted(q); r.Throttled || r.Score != 52 {
		s.t.Fatalf("after the extended throttle lifted: %+v", r)
	}
	s.advance(time.Millisecond)
	s.counted(q)
}

func testThrottleAgain(s *suite) {
	s.start(1, nil)
	p := s.join("p")
	s.violate(p)
	s.advance(5 * time.Minute)
	if n := s.violate(p); n != 50 {
		s.t.Fatalf("%d of 51 counted after the throttle had lifted", n)
	}
	s.advance(time.Second)
	s.refused(p, time.Minute-time.Second)
}

func testAllTabsTogether(s *suite) {
	// One player in two tabs on each of two nodes: all attempts count in one window.
	s.start(2, nil)
	p := s.join("tabs")
	tabs := []struct {
		b game.Backend
		p game.Player
	}{{s.nodes[0], p}, {s.nodes[0], s.on(0, p)}, {s.nodes[1], s.on(1, p)}, {s.nodes[1], s.on(1, p)}}
	counted := 0
	for i := range 60 {
		tab := tabs[i%len(tabs)]
		if r := s.clickOn(tab.b, tab.p); r.Counted {
			counted++
		}
	}
	if counted != 50 {
		s.t.Fatalf("%d of 60 attempts across 4 tabs counted, want 50", counted)
	}
	for i, tab := range tabs {
		r := s.clickOn(tab.b, tab.p)
		if r.Counted || !r.Throttled || r.Total != 50 {
			s.t.Fatalf("tab %d after the burst: %+v, want throttled at 50", i, r)
		}
	}
	if st := s.stats(); st.TotalClicks != 50 {
		s.t.Fatalf("total clicks %d, want 50", st.TotalClicks)
	}
}

func testIdleReset(s *suite) {
	s.start(1, nil)
	p := s.join("idler")
	s.climb(p, 10)
	// Just under five minutes: the score stays.
	s.advance(5*time.Minute - time.Microsecond)
	if st := s.state(p); st.Score != 10 || st.IdleReset {
		s.t.Fatalf("before the idle reset: %+v", st)
	}
	s.advance(time.Microsecond)
	if st := s.state(p); st.Score != 0 || !st.IdleReset || st.Best != 10 || st.Total != 10 {
		s.t.Fatalf("after five idle minutes: %+v, want score 0 with best 10", st)
	}
	s.wantBoard("idler=10") // the best stays on the board
	r := s.counted(p)
	if r.Score != 1 || r.Best != 10 || r.Total != 11 || r.IdleReset {
		s.t.Fatalf("first click after the reset: %+v", r)
	}
	s.climb(p, 10)
	if st := s.state(p); st.Score != 11 || st.Best != 11 {
		s.t.Fatalf("climbing past the old best: %+v", st)
	}
	s.wantBoard("idler=11")
}

func testTies(s *suite) {
	s.start(1, nil)
	a, b, c := s.join("a"), s.join("b"), s.join("c")
	s.climb(b, 3) // b reaches 3 first
	s.climb(a, 3)
	s.climb(c, 2)
	s.wantBoard("b=3", "a=3", "c=2")
	s.climb(a, 1)
	s.wantBoard("a=4", "b=3", "c=2")
	// Both reach 5 in the same microsecond: the order is still total and every node
	// agrees on it.
	s.climb(b, 1)
	s.counted(a)
	s.counted(b)
	rows := s.tick()
	if rows[0].Best != 5 || rows[1].Best != 5 || rows[0].BestAt != rows[1].BestAt {
		s.t.Fatalf("board %+v, want two rows of 5 reached at once", rows)
	}
	if !game.RanksAbove(rows[0], rows[1]) {
		s.t.Fatalf("rows out of order: %+v", rows[:2])
	}
}

func testRename(s *suite) {
	s.start(1, nil)
	p := s.join("before")
	s.climb(p, 4)
	s.wantBoard("before=4")
	h, err := s.b.Rename(ctx, p, "  After  ")
	if err != nil || h != "After" {
		s.t.Fatalf("Rename = %q, %v; want the normal form", h, err)
	}
	if st := s.state(p); st.Handle != "After" || st.Score != 4 || st.Best != 4 {
		s.t.Fatalf("state after the rename: %+v", st)
	}
	if p.Handle() != "After" {
		s.t.Fatalf("handle %q after the rename", p.Handle())
	}
	s.wantBoard("After=4")
	if _, err := s.b.Rename(ctx, p, ""); !errors.Is(err, game.ErrInvalidHandle) {
		s.t.Fatalf("Rename to an empty handle: %v, want ErrInvalidHandle", err)
	}
	if _, err := s.b.Join(ctx, "bad\x00handle"); !errors.Is(err, game.ErrInvalidHandle) {
		s.t.Fatalf("Join with a control character: %v, want ErrInvalidHandle", err)
	}
	s.wantBoard("After=4")
}

func testRestore(s *suite) {
	s.start(1, nil)
	id := uuid.MustParse("0b0e6a47-3c2a-4f6e-9c3e-2a7c1d9b8e11")
	p, err := s.b.Restore(ctx, id, "back")
	if err != nil || p.ID() != id || p.Handle() != "back" {
		s.t.Fatalf("Restore of an unknown id: %v, %v", p, err)
	}
	s.climb(p, 2)
	// The same identity again: the stored player, its handle and scores.
	q, err := s.b.Restore(ctx, id, "other")
	if err != nil || q.Handle() != "back" || s.state(q).Best != 2 {
		s.t.Fatalf("Restore of a known id: %v %+v, %v", q, s.state(q), err)
	}
	if _, err := s.b.Get(ctx, uuid.New()); !errors.Is(err, game.ErrNoPlayer) {
		s.t.Fatalf("Get of an unknown id: %v, want ErrNoPlayer", err)
	}
	if st := s.stats(); st.Players != 1 {
		s.t.Fatalf("players %d, want 1", st.Players)
	}
}

func testAdminReset(s *suite) {
	s.start(1, nil)
	a, b := s.join("a"), s.join("b")
	s.climb(a, 5)
	s.climb(b, 3)
	s.wantBoard("a=5", "b=3")
	if err := s.b.Reset(ctx, a); err != nil {
		s.t.Fatal(err)
	}
	s.wantBoard("b=3")
	info, err := s.b.Info(ctx, a)
	if err != nil || info.Score != 0 || info.Best != 0 || info.Total != 5 {
		s.t.Fatalf("Info after reset: %+v, %v; want 0, 0, total 5", info, err)
	}
	if st := s.stats(); st.TotalClicks != 8 {
		s.t.Fatalf("total clicks %d after a reset, want 8 (the total stays)", st.TotalClicks)
	}
	// The player climbs again from 0.
	s.climb(a, 4)
	s.wantBoard("a=4", "b=3")
}

func testAdminRemove(s *suite) {
	s.start(1, nil)
	a, b := s.join("a"), s.join("b")
	s.climb(a, 5)
	s.climb(b, 3)
	s.wantBoard("a=5", "b=3")
	info, err := s.b.Remove(ctx, a.ID())
	if err != nil || info.Handle != "a" || info.Best != 5 || info.Total != 5 {
		s.t.Fatalf("Remove = %+v, %v", info, err)
	}
	s.wantBoard("b=3")
	if st := s.stats(); st.Players != 1 || st.TotalClicks != 3 {
		s.t.Fatalf("stats after remove: %+v, want 1 player and 3 clicks", st)
	}
	if _, err := s.b.Get(ctx, a.ID()); !errors.Is(err, game.ErrNoPlayer) {
		s.t.Fatalf("Get of a removed player: %v, want ErrNoPlayer", err)
	}
	if _, err := s.b.Click(ctx, a); !errors.Is(err, game.ErrNoPlayer) {
		s.t.Fatalf("Click of a removed player: %v, want ErrNoPlayer", err)
	}
	if !a.Removed() {
		s.t.Fatal("the removed player's handle does not say so")
	}
	if _, err := s.b.Remove(ctx, a.ID()); !errors.Is(err, game.ErrNoPlayer) {
		s.t.Fatalf("second Remove: %v, want ErrNoPlayer", err)
	}
	// The identity comes back as a fresh player.
	again, err := s.b.Restore(ctx, a.ID(), "a")
	if err != nil || s.state(again).Best != 0 {
		s.t.Fatalf("Restore after remove: %+v, %v", s.state(again), err)
	}
	// A player who never clicked goes as well.
	idle := s.join("idle")
	if info, err := s.b.Remove(ctx, idle.ID()); err != nil || info.Total != 0 {
		s.t.Fatalf("Remove of a player who never clicked = %+v, %v", info, err)
	}
	if st := s.stats(); st.Players != 2 || st.TotalClicks != 3 {
		s.t.Fatalf("stats after removing a player without clicks: %+v", st)
	}
}

func testTotals(s *suite) {
	s.start(2, nil)
	if st := s.stats(); st != (game.Stats{}) {
		s.t.Fatalf("stats of an empty game: %+v", st)
	}
	a, b := s.join("a"), s.joinOn(1, "b")
	s.climb(a, 3)
	s.climbOn(1, b, 4)
	s.violate(a) // 50 more count, one refused
	for i, n := range s.nodes {
		s.tick()
		if st := n.Stats(); st.Players != 2 || st.TotalClicks != 57 || st.Refused != 1 {
			s.t.Fatalf("node %d stats %+v, want 2 players, 57 clicks, 1 refused", i, st)
		}
	}
}

// testBoardOrder plays a random game on a small board and checks every published
// board against an oracle of the suite's own, and the deltas against the boards.
func testBoardOrder(s *suite) {
	const size = 7
	s.start(1, func(c *game.Config) { c.BoardSize = size; c.IdleReset = 3 * time.Second })
	rng := rand.New(rand.NewPCG(7, 11))
	type mine struct {
		p            game.Player
		score, best  int64
		bestAt, last time.Time
	}
	var ps []*mine
	var prev game.Update
	for round := range 60 {
		if len(ps) < 3 || len(ps) < 30 && rng.IntN(3) > 0 {
			ps = append(ps, &mine{p: s.join(fmt.Sprintf("p%d", len(ps)))})
		}
		s.advance(time.Duration(rng.IntN(1500)+1) * time.Millisecond)
		for range rng.IntN(8) {
			m := ps[rng.IntN(len(ps))]
			now := s.clock.Now()
			r := s.counted(m.p)
			if !m.last.IsZero() && now.Sub(m.last) >= 3*time.Second {
				m.score = 0
			}
			m.score++
			m.last = now
			if m.score > m.best {
				m.best, m.bestAt = m.score, now
			}
			if r.Score != m.score || r.Best != m.best {
				s.t.Fatalf("round %d: click gave %+v, want score %d best %d", round, r, m.score, m.best)
			}
		}
		u, changed, err := s.b.Tick(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		var want []game.Row
		for _, m := range ps {
			if m.best > 0 {
				want = append(want, game.Row{ID: m.p.ID(), Handle: m.p.Handle(), Best: m.best, BestAt: m.bestAt.UnixNano()})
			}
		}
		slices.SortFunc(want, game.CompareRows)
		want = want[:min(len(want), size)]
		got := s.b.Board()
		if !slices.Equal(got.Rows, want) {
			s.t.Fatalf("round %d: board\n%v\nwant\n%v", round, got.Rows, want)
		}
		if !changed {
			if got.Seq != prev.Seq && prev.Seq != 0 {
				s.t.Fatalf("round %d: seq moved to %d without an update", round, got.Seq)
			}
			continue
		}
		if prev.Seq != 0 {
			if u.Seq != prev.Seq+1 {
				s.t.Fatalf("round %d: seq %d after %d", round, u.Seq, prev.Seq)
			}
			if applied := applyDelta(prev.Rows, u); !slices.Equal(applied, u.Rows) {
				s.t.Fatalf("round %d: the delta applied to the previous board gives\n%v\nnot\n%v", round, applied, u.Rows)
			}
		}
		prev = u
	}
}

// applyDelta rebuilds a board from the previous one and an update's changed rows and
// dropped players, as a client does.
func applyDelta(prev []game.Row, u game.Update) []game.Row {
	byID := map[uuid.UUID]game.Row{}
	for _, r := range prev {
		byID[r.ID] = r
	}
	for _, id := range u.Dropped {
		delete(byID, id)
	}
	for _, i := range u.Changed {
		byID[u.Rows[i].ID] = u.Rows[i]
	}
	out := make([]game.Row, len(u.Rows))
	for i, r := range u.Rows {
		if !slices.Contains(u.Changed, i) {
			r = byID[r.ID] // must be the old row, unchanged
		}
		out[i] = r
	}
	return out
}

func testBoardAcrossNodes(s *suite) {
	s.start(3, nil)
	a, b := s.join("a"), s.joinOn(1, "b")
	s.climb(a, 2)
	s.climbOn(1, b, 3)
	s.tick()
	for i, n := range s.nodes {
		if got := boardOf(n.Board().Rows); !slices.Equal(got, []string{"b=3", "a=2"}) {
			s.t.Fatalf("node %d board %v", i, got)
		}
	}
	// A rename on one node reaches every node's board.
	if _, err := s.nodes[2].Rename(ctx, s.on(2, a), "renamed"); err != nil {
		s.t.Fatal(err)
	}
	s.tick()
	for i, n := range s.nodes {
		if got := boardOf(n.Board().Rows); !slices.Equal(got, []string{"b=3", "renamed=2"}) {
			s.t.Fatalf("node %d board after a rename elsewhere %v", i, got)
		}
	}
}

func testOnlineReturning(s *suite) {
	s.start(1, nil)
	p, q := s.join("p"), s.join("q")
	for _, x := range []game.Player{p, p, q} {
		if ret, err := s.b.Attach(ctx, x); err != nil || ret {
			s.t.Fatalf("Attach = %v, %v; a new player is not returning", ret, err)
		}
	}
	if st := s.stats(); st.Online != 2 || st.PeakOnline != 2 {
		s.t.Fatalf("online %d peak %d with 2 players on 3 sockets", st.Online, st.PeakOnline)
	}
	if info, err := s.b.Info(ctx, q); err != nil || !info.Online {
		s.t.Fatalf("Info of a player with a socket: %+v, %v; want online", info, err)
	}
	if page, _, err := s.b.Find(ctx, nil, 0, 5); err != nil || len(page) != 2 || !page[0].Online || !page[1].Online {
		s.t.Fatalf("Find with both online: %+v, %v", page, err)
	}
	s.b.Detach(p)
	if st := s.stats(); st.Online != 2 {
		s.t.Fatalf("online %d after one of p's two sockets closed", st.Online)
	}
	s.b.Detach(p)
	s.b.Detach(q)
	if st := s.stats(); st.Online != 0 || st.PeakOnline != 2 {
		s.t.Fatalf("online %d peak %d after everyone left", st.Online, st.PeakOnline)
	}
	if info, err := s.b.Info(ctx, q); err != nil || info.Online {
		s.t.Fatalf("Info of a player who left: %+v, %v; want offline", info, err)
	}
	s.climb(p, 1)
	s.advance(game.ReturnAfter - time.Second)
	if ret, _ := s.b.Attach(ctx, p); ret {
		s.t.Fatal("p counted as returning before 30 minutes away")
	}
	s.b.Detach(p)
	s.advance(game.ReturnAfter)
	if ret, err := s.b.Attach(ctx, p); err != nil || !ret {
		s.t.Fatalf("Attach after 30 minutes away = %v, %v; want returning", ret, err)
	}
	if st := s.stats(); st.Returning != 1 {
		s.t.Fatalf("returning %d, want 1", st.Returning)
	}
	s.b.Detach(p)
}

func testFind(s *suite) {
	s.start(1, nil)
	names := []string{"Alpha", "beta", "ALPHABET", "gamma", "alp"}
	ps := map[string]game.Player{}
	for i, n := range names {
		ps[n] = s.join(n)
		s.climb(ps[n], i+1)
	}
	alp := func(_ uuid.UUID, h string) bool { return bytes.Contains(bytes.ToLower([]byte(h)), []byte("alp")) }
	page, n, err := s.b.Find(ctx, alp, 0, 10)
	if err != nil || n != 3 {
		s.t.Fatalf("Find alp: %d matched, %v", n, err)
	}
	var got []string
	for _, p := range page {
		got = append(got, p.Handle)
	}
	if want := []string{"alp", "ALPHABET", "Alpha"}; !slices.Equal(got, want) {
		s.t.Fatalf("Find alp, best first: %v, want %v", got, want)
	}
	page, n, err = s.b.Find(ctx, nil, 1, 2)
	if err != nil || n != 5 || len(page) != 2 || page[0].Handle != "gamma" || page[1].Handle != "ALPHABET" {
		s.t.Fatalf("Find all, page 2 of size 2: %+v, %d, %v", page, n, err)
	}
	if page, n, _ := s.b.Find(ctx, nil, 10, 5); len(page) != 0 || n != 5 {
		s.t.Fatalf("Find past the end: %+v, %d", page, n)
	}
	// Players without a best rank last, in a page that reaches them.
	s.join("zero")
	page, n, err = s.b.Find(ctx, nil, 4, 10)
	if err != nil || n != 6 || len(page) != 2 || page[0].Handle != "Alpha" || page[1].Handle != "zero" {
		s.t.Fatalf("Find all from 4: %+v, %d, %v", page, n, err)
	}
}

func testSnapshotRecords(s *suite) {
	s.start(1, nil)
	a, b := s.join("a"), s.join("b. with-more_text")
	s.join("never clicked")
	s.climb(a, 3)
	s.climb(b, 2)
	lastA := t0.Add(3 * time.Second)
	src, ok := s.b.(game.Source)
	if !ok {
		s.t.Fatal("the backend is not a snapshot Source")
	}
	v1, err := src.Version(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := game.WriteSnapshot(ctx, &buf, src); err != nil {
		s.t.Fatal(err)
	}
	got := map[string]game.Record{}
	if _, err := game.ReadSnapshot(bytes.NewReader(buf.Bytes()), "snapshot", func(r game.Record) error {
		got[r.Handle] = r
		return nil
	}); err != nil {
		s.t.Fatalf("the snapshot does not read back: %v\n%s", err, buf.String())
	}
	if len(got) != 3 {
		s.t.Fatalf("snapshot of %d players, want 3:\n%s", len(got), buf.String())
	}
	if r := got["a"]; r.ID != a.ID() || r.Score != 3 || r.Best != 3 || r.Total != 3 ||
		!r.LastClick.Equal(lastA) || !r.BestAt.Equal(lastA) {
		s.t.Fatalf("record of a: %+v", r)
	}
	if r := got["never clicked"]; r.Best != 0 || !r.LastClick.IsZero() || !r.BestAt.IsZero() {
		s.t.Fatalf("record of a player who never clicked: %+v", r)
	}
	// The idle reset applies to what a snapshot stores.
	s.advance(5 * time.Minute)
	buf.Reset()
	game.WriteSnapshot(ctx, &buf, src)
	game.ReadSnapshot(bytes.NewReader(buf.Bytes()), "snapshot", func(r game.Record) error {
		if r.Handle == "a" && (r.Score != 0 || r.Best != 3) {
			s.t.Fatalf("record of an idle player: %+v, want score 0 and best 3", r)
		}
		return nil
	})
	// The version moves with a click and stays without one.
	v2, _ := src.Version(ctx)
	if v2 != v1 {
		s.t.Fatalf("version moved from %d to %d without a change", v1, v2)
	}
	s.counted(b)
	if v3, _ := src.Version(ctx); v3 == v2 {
		s.t.Fatal("version did not move with a click")
	}
}

func testBan(s *suite) {
	s.start(2, nil)
	p, q := s.join("cheat"), s.join("honest")
	s.climb(p, 5)
	s.climb(q, 3)
	s.wantBoard("cheat=5", "honest=3")
	if err := s.b.Ban(ctx, p.ID(), ""); err == nil {
		s.t.Fatal("a ban without a reason was accepted")
	}
	if err := s.b.Ban(ctx, uuid.New(), "who?"); !errors.Is(err, game.ErrNoPlayer) {
		s.t.Fatalf("ban of an unknown player: %v, want ErrNoPlayer", err)
	}
	if err := s.nodes[1].Ban(ctx, p.ID(), "autoclicker"); err != nil {
		s.t.Fatal(err)
	}
	s.wantBoard("honest=3")
	for i, n := range s.nodes {
		_, err := n.Restore(ctx, p.ID(), "cheat")
		var be *game.BannedError
		if !errors.As(err, &be) || be.Reason != "autoclicker" || !errors.Is(err, game.ErrBanned) {
			s.t.Fatalf("node %d: Restore of a banned identity: %v, want a BannedError saying autoclicker", i, err)
		}
		if _, err := n.Click(ctx, s.on(i, p)); !errors.Is(err, game.ErrBanned) {
			s.t.Fatalf("node %d: a banned player's click: %v, want ErrBanned", i, err)
		}
	}
	bans, err := s.b.Bans(ctx)
	if err != nil || len(bans) != 1 || bans[0].ID != p.ID() || bans[0].Reason != "autoclicker" || bans[0].Handle != "cheat" || !bans[0].At.Equal(s.clock.Now()) {
		s.t.Fatalf("Bans = %+v, %v", bans, err)
	}
	if info, _ := s.b.Info(ctx, s.on(0, p)); info.Banned == nil || info.Banned.Reason != "autoclicker" {
		s.t.Fatalf("Info of a banned player: %+v", info)
	}
	if err := s.b.Unban(ctx, p.ID()); err != nil {
		s.t.Fatal(err)
	}
	if err := s.b.Unban(ctx, p.ID()); err == nil {
		s.t.Fatal("a second unban found a ban")
	}
	back, err := s.nodes[1].Restore(ctx, p.ID(), "cheat")
	if err != nil || s.nodes[1].State(back).Best != 5 {
		s.t.Fatalf("after the unban: %v, best %d; want the old scores", err, s.nodes[1].State(back).Best)
	}
	s.wantBoard("cheat=5", "honest=3")
	s.climbOn(1, back, 1)
	if bans, _ := s.b.Bans(ctx); len(bans) != 0 {
		s.t.Fatalf("bans after the unban: %+v", bans)
	}
}

func testBanAfterRemoval(s *suite) {
	s.start(1, nil)
	p := s.join("spammer")
	s.climb(p, 2)
	if err := s.b.Ban(ctx, p.ID(), "spam"); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.b.Remove(ctx, p.ID()); err != nil {
		s.t.Fatal(err)
	}
	// The ban is the identity's, not the row's: the cookie does not bring the player back.
	if _, err := s.b.Restore(ctx, p.ID(), "spammer"); !errors.Is(err, game.ErrBanned) {
		s.t.Fatalf("Restore after ban and removal: %v, want ErrBanned", err)
	}
	if bans, _ := s.b.Bans(ctx); len(bans) != 1 || bans[0].Handle != "" {
		s.t.Fatalf("Bans after the removal: %+v", bans)
	}
}

func testHandleLock(s *suite) {
	s.start(2, nil)
	p := s.join("rude word")
	s.climb(p, 2)
	h, err := s.nodes[1].LockHandle(ctx, s.on(1, p), "  player 7 ")
	if err != nil || h != "player 7" {
		s.t.Fatalf("LockHandle = %q, %v", h, err)
	}
	s.wantBoard("player 7=2")
	for i := range s.nodes {
		if _, err := s.nodes[i].Rename(ctx, s.on(i, p), "rude word"); !errors.Is(err, game.ErrHandleLocked) {
			s.t.Fatalf("node %d: the player renamed a locked handle: %v", i, err)
		}
	}
	if info, _ := s.b.Info(ctx, p); !info.HandleLocked || info.Handle != "player 7" {
		s.t.Fatalf("Info: %+v", info)
	}
	if err := s.b.UnlockHandle(ctx, p); err != nil {
		s.t.Fatal(err)
	}
	if h, err := s.nodes[1].Rename(ctx, s.on(1, p), "nicer"); err != nil || h != "nicer" {
		s.t.Fatalf("rename after the unlock: %q, %v", h, err)
	}
}

// botClicks has p click n times at rate a second, as a machine: evenly.
func (s *suite) botClicks(p game.Player, n int, rate float64) (flaggedAfter int) {
	s.t.Helper()
	step := time.Duration(float64(time.Second) / rate)
	for i := range n {
		s.advance(step)
		s.clickOn(s.b, p)
		if flaggedAfter == 0 {
			if page, _, _ := s.b.Suspects(ctx, 0, 10); len(page) > 0 {
				flaggedAfter = i + 1
			}
		}
	}
	return flaggedAfter
}

func testBotFlag(s *suite) {
	s.start(1, nil) // the default action: flag only
	bot, human := s.join("bot"), s.join("human")
	s.climb(human, 3)
	if n := s.botClicks(bot, 100, 40); n == 0 || n > 40 {
		s.t.Fatalf("a bot at 40 clicks a second, evenly: flagged after %d clicks, want within 40", n)
	}
	page, n, err := s.b.Suspects(ctx, 0, 10)
	if err != nil || n != 1 || page[0].ID != bot.ID() || page[0].Suspect == nil {
		s.t.Fatalf("Suspects = %+v, %d, %v", page, n, err)
	}
	ev := page[0].Suspect
	if ev.Rule != game.RuleRegular || ev.CV > 0.01 || ev.Rate < 39 || ev.Rate > 41 || ev.Samples < 32 {
		s.t.Fatalf("evidence %+v, want regular intervals at 40/s", ev)
	}
	// Flagging only lists it: the bot's clicks still count, it stays on the board.
	s.wantBoard("bot=100", "human=3")
	if err := s.b.Clear(ctx, bot); err != nil {
		s.t.Fatal(err)
	}
	if _, n, _ := s.b.Suspects(ctx, 0, 10); n != 0 {
		s.t.Fatalf("%d suspects after the clear", n)
	}
	if info, _ := s.b.Info(ctx, bot); info.Suspect != nil {
		s.t.Fatalf("Info after the clear: %+v", info)
	}
}

func testBotHide(s *suite) {
	s.start(1, func(c *game.Config) { c.Bots.Action = game.BotHide })
	bot, human := s.join("bot"), s.join("human")
	s.climb(human, 3)
	s.botClicks(bot, 100, 40)
	s.wantBoard("human=3")
	if st := s.state(bot); st.Best != 100 {
		s.t.Fatalf("a hidden bot's own state: %+v, want its best kept", st)
	}
	if err := s.b.Clear(ctx, bot); err != nil {
		s.t.Fatal(err)
	}
	s.wantBoard("bot=100", "human=3")
}

func testBotThrottle(s *suite) {
	s.start(1, func(c *game.Config) { c.Bots.Action = game.BotThrottle })
	bot := s.join("bot")
	flaggedAt := s.botClicks(bot, 100, 40)
	if flaggedAt == 0 {
		s.t.Fatal("not flagged")
	}
	st := s.state(bot)
	if !st.Throttled || st.Total > int64(flaggedAt)+1 {
		s.t.Fatalf("a flagged bot under the throttle action: %+v after being flagged at click %d", st, flaggedAt)
	}
	if err := s.b.Clear(ctx, bot); err != nil {
		s.t.Fatal(err)
	}
	if r := s.counted(bot); r.Throttled {
		s.t.Fatalf("still throttled after the clear: %+v", r)
	}
}

func testForgetUnplayed(s *suite) {
	s.start(1, nil)
	idle, played, online := s.join("idle"), s.join("played"), s.join("online")
	s.climb(played, 1)
	if _, err := s.b.Attach(ctx, online); err != nil {
		s.t.Fatal(err)
	}
	s.advance(25 * time.Hour)
	late := s.join("late") // joined after the cut
	n, err := s.b.ForgetUnplayed(ctx, s.clock.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		s.t.Fatalf("ForgetUnplayed = %d, %v; want the one idle player", n, err)
	}
	if _, err := s.b.Get(ctx, idle.ID()); !errors.Is(err, game.ErrNoPlayer) {
		s.t.Fatalf("the forgotten player is still there: %v", err)
	}
	for _, p := range []game.Player{played, online, late} {
		if _, err := s.b.Get(ctx, p.ID()); err != nil {
			s.t.Fatalf("%s was forgotten: %v", p.Handle(), err)
		}
	}
	if st := s.stats(); st.Players != 3 {
		s.t.Fatalf("players %d after forgetting one of 4", st.Players)
	}
	s.b.Detach(online)
}
