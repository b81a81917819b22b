package game

import (
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Window packing: the start of the current throttle window in Unix milliseconds in the
// high bits, the attempts seen in it in the low bits, so both change in one CAS.
const (
	attemptBits = 22
	attemptMask = 1<<attemptBits - 1
)

// memPlayer is one player of the in-memory Engine. Every mutable field is an atomic,
// so clicks from several tabs, the leaderboard tick and the snapshot writer can all
// touch a player at once without a lock. Only the Engine changes a memPlayer.
//
// The first 64 bytes hold every field a snapshot row needs, and the struct is a whole
// number of cache lines (TestPlayerLayout), so that a snapshot, which visits a million
// players in no useful memory order, waits for one cache line per loaded player (the
// load slabs start on a page) and not two.
type memPlayer struct {
	id uuid.UUID

	handle    atomic.Pointer[string] // &firstHandle until the first rename
	score     atomic.Int64
	best      atomic.Int64
	bestAt    atomic.Int64 // Unix nanoseconds when best was reached, for tie-breaks
	total     atomic.Int64
	lastClick atomic.Int64 // Unix nanoseconds of the last counted click; 0 means never

	// firstHandle holds the handle the player was created with, so that creating a
	// player does not allocate a box for it; a rename stores a new box.
	firstHandle string

	window      atomic.Uint64 // start ms << attemptBits | attempts
	violation   atomic.Int64  // Unix ns when the limit was last exceeded; 0 means never
	nextAllowed atomic.Int64  // while throttled: Unix ns from which one click counts again

	conns    atomic.Int32 // open sockets of this player
	lastLeft atomic.Int64 // Unix ns when the player's last socket closed; 0 means never

	// removed is set when a moderator removed the player from the store (admin.go);
	// sockets may still hold it, but its clicks no longer count and it is off the board.
	removed atomic.Bool
	// banned is set while a moderator's ban holds (moderation.go): no click counts.
	banned atomic.Bool
	// hidden keeps the player off the public board: banned, or flagged as a bot with
	// the action BotHide.
	hidden atomic.Bool
	// locked is set when a moderator chose the handle: the player cannot rename.
	locked atomic.Bool
	// joinedAt is when the player was created in this process (Unix ns), for
	// ForgetUnplayed.
	joinedAt int64

	bots botState

	// queued is true while the player sits in its lane's changed list; next links that
	// intrusive list, so queueing a change allocates nothing.
	queued atomic.Bool
	next   *memPlayer
	lane   *lane
	// rqueued and rnext are the same for the lane's ranked list.
	rqueued atomic.Bool
	rnext   *memPlayer

	// rankBest and rankAt are the key p is filed under in the rank index (rank.go);
	// rankBest 0 means not filed. Guarded by Engine.rankMu.
	rankBest, rankAt int64

	_ [playerPad]byte
}

// playerPad rounds memPlayer up to 256 bytes, four cache lines.
const playerPad = 16

// ID implements Player.
func (p *memPlayer) ID() uuid.UUID { return p.id }

// Handle implements Player.
func (p *memPlayer) Handle() string { return *p.handle.Load() }

// Removed implements Player.
func (p *memPlayer) Removed() bool { return p.removed.Load() }

// view reads the fields that decide what p sees.
func (p *memPlayer) view() View {
	return View{
		Handle:      p.Handle(),
		Score:       max(p.score.Load(), 0), // 0 for the instant of an idle reset
		Best:        p.best.Load(),
		Total:       p.total.Load(),
		LastClick:   p.lastClick.Load(),
		Violation:   p.violation.Load(),
		NextAllowed: p.nextAllowed.Load(),
	}
}

// Record is a plain copy of a player's stored fields, as kept in a snapshot.
type Record struct {
	ID        uuid.UUID
	Handle    string
	Score     int64
	Best      int64
	Total     int64
	LastClick time.Time // zero when the player never clicked
	BestAt    time.Time // zero when best is 0
}

// State is what a player sees of themselves at one moment.
type State struct {
	Handle     string
	Score      int64
	Best       int64
	Total      int64
	Throttled  bool
	RetryAfter time.Duration // while throttled, the wait until the next click counts
	IdleReset  bool          // the score is 0 because the player was idle too long
}

// View is the stored numbers that decide what a player sees. Every backend reads them
// its own way and derives the State with Config.StateOf, so the idle reset and the
// throttle look the same whichever backend runs.
type View struct {
	Handle             string
	Score, Best, Total int64
	// LastClick is the Unix ns of the last counted click; 0 means never.
	LastClick int64
	// Violation is the Unix ns when the throttle limit was last exceeded; 0 means never.
	Violation int64
	// NextAllowed is, while throttled, the Unix ns from which one click counts again.
	NextAllowed int64
}

// StateOf returns what a player with the stored numbers v sees at t (Unix ns): a score
// of 0 after IdleReset without a counted click, and the throttle with the wait until
// the next click counts.
func (c Config) StateOf(v View, t int64) State {
	s := State{Handle: v.Handle, Score: v.Score, Best: v.Best, Total: v.Total}
	if v.LastClick != 0 && t-v.LastClick >= int64(c.IdleReset) {
		s.Score, s.IdleReset = 0, true
	}
	if v.Violation != 0 && t-v.Violation < int64(c.ThrottlePenalty) {
		s.Throttled = true
		// The next click counts at NextAllowed, or when the throttle lifts a full
		// penalty after the last violation, whichever comes first.
		if next := min(v.NextAllowed, v.Violation+int64(c.ThrottlePenalty)); next > t {
			s.RetryAfter = time.Duration(next - t)
		}
	}
	return s
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
