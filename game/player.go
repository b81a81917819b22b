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

// Player is one player's state. Every mutable field is an atomic, so clicks from several
// tabs, the leaderboard tick and the snapshot writer can all touch a player at once
// without a lock. Only the Engine changes a Player.
type Player struct {
	// ID is the player's random, secret identity. It is never shown to other players.
	ID uuid.UUID

	handle    atomic.Pointer[string]
	score     atomic.Int64
	best      atomic.Int64
	bestAt    atomic.Int64 // Unix nanoseconds when best was reached, for tie-breaks
	total     atomic.Int64
	lastClick atomic.Int64 // Unix nanoseconds of the last counted click; 0 means never

	window      atomic.Uint64 // start ms << attemptBits | attempts
	violation   atomic.Int64  // Unix ns when the limit was last exceeded; 0 means never
	nextAllowed atomic.Int64  // while throttled: Unix ns from which one click counts again

	conns    atomic.Int32 // open sockets of this player on this node
	lastLeft atomic.Int64 // Unix ns when the player's last socket closed; 0 means never

	// removed is set when a moderator removed the player from the store (admin.go);
	// sockets may still hold it, but its clicks no longer count and it is off the board.
	removed atomic.Bool

	// queued is true while the player sits in its lane's changed list; next links that
	// intrusive list, so queueing a change allocates nothing.
	queued atomic.Bool
	next   *Player
	lane   *lane
}

// Handle returns the player's current handle.
func (p *Player) Handle() string { return *p.handle.Load() }

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
