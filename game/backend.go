package game

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Backend is one game as the server drives it. It has two implementations: the
// in-memory Engine of this package, for a single process, and the Redis backend of
// package redisgame, which lets any number of processes share one game. Both obey the
// same rules, which the suite in package gametest checks.
//
// Methods that may have to ask another machine take a context and return an error;
// State, Board and Stats answer from what this process already holds, so the
// broadcast loop can call them for every socket without waiting on the network.
type Backend interface {
	// Config returns the rules in force.
	Config() Config

	// Join creates a new player with a fresh random id.
	Join(ctx context.Context, handle string) (Player, error)
	// Get returns the player with id, or an error matching ErrNoPlayer.
	Get(ctx context.Context, id uuid.UUID) (Player, error)
	// Restore returns the player with id, creating it with handle and no score when it
	// is unknown: a valid signed identity from before a lost snapshot gets its id back.
	Restore(ctx context.Context, id uuid.UUID, handle string) (Player, error)
	// Rename changes p's handle and keeps the scores. It returns the stored handle.
	Rename(ctx context.Context, p Player, handle string) (string, error)

	// Click applies one click attempt by p. The result is stored when it returns
	// without error: an acknowledged click is never lost.
	Click(ctx context.Context, p Player) (ClickResult, error)
	// State returns what p sees of themselves now, from what this process knows.
	State(p Player) State

	// Attach records that p opened a socket on this process, and reports whether p
	// is a returning player (away for ReturnAfter or more). Detach records that one
	// closed.
	Attach(ctx context.Context, p Player) (returning bool, err error)
	Detach(p Player)

	// Tick brings the leaderboard up to date and reports whether it changed; the
	// caller publishes the Update to every socket.
	Tick(ctx context.Context) (Update, bool, error)
	// Board returns the leaderboard as of the last Tick.
	Board() Update
	// Stats returns the game-wide counters as of the last Tick (or fresher).
	Stats() Stats
	// Ranks fills out[i] with where ps[i] stands among all players (see Rank); out must
	// be as long as ps. It is made for one batch a second with the players of every
	// open socket. In memory every answer is as of the call. In Redis every answer is
	// exact as of the call for the players asked about; a change made on another node
	// to any other player shows once that node's next Tick has run.
	Ranks(ctx context.Context, ps []Player, out []Rank) error

	// Find returns the players for which match is true (all when match is nil),
	// ranked as the board ranks them, skipping offset and returning at most limit;
	// and how many matched in all. It is for moderation and may scan every player.
	Find(ctx context.Context, match func(id uuid.UUID, handle string) bool, offset, limit int) ([]PlayerInfo, int, error)
	// Info returns p's stored fields, the idle reset applied, for moderation.
	Info(ctx context.Context, p Player) (PlayerInfo, error)
	// Reset sets p's score and best to 0 and keeps the lifetime total.
	Reset(ctx context.Context, p Player) error
	// Remove takes the player with id out of the game and returns it as it was, or
	// an error matching ErrNoPlayer. Its clicks leave the total.
	Remove(ctx context.Context, id uuid.UUID) (PlayerInfo, error)
	// LockHandle is a moderator's rename: it sets p's handle and locks it, so that
	// Rename refuses until UnlockHandle.
	LockHandle(ctx context.Context, p Player, handle string) (string, error)
	// UnlockHandle lets p rename again.
	UnlockHandle(ctx context.Context, p Player) error
	// Ban keeps the player with id out: Restore and Click refuse its identity with a
	// *BannedError, it leaves the board, and every process closes its sockets. The ban
	// holds across restarts, and after the player's removal.
	Ban(ctx context.Context, id uuid.UUID, reason string) error
	// Unban lifts a ban; the player comes back with the scores it had.
	Unban(ctx context.Context, id uuid.UUID) error
	// Bans lists the bans in force, newest first.
	Bans(ctx context.Context) ([]BanInfo, error)
	// Suspects lists the players the bot detection flagged, newest first, skipping
	// offset and returning at most limit, and how many there are in all.
	Suspects(ctx context.Context, offset, limit int) ([]PlayerInfo, int, error)
	// Clear lifts p's bot flag (and what the flag's action did) and starts its
	// detection afresh.
	Clear(ctx context.Context, p Player) error
	// ForgetUnplayed removes the players who never counted a click, hold no socket,
	// and joined before t, and returns how many it removed.
	ForgetUnplayed(ctx context.Context, t time.Time) (int, error)

	// Watch registers fn to be told of changes made elsewhere (by another process
	// sharing the game) that the sockets of this process must act on. Call it once,
	// before serving.
	Watch(fn func(Event))
	// Ping reports whether the game's storage answers.
	Ping(ctx context.Context) error
}

// Player is a backend's handle on one player, as a socket or a request holds it.
type Player interface {
	// ID is the player's random, secret identity. It is never shown to other players.
	ID() uuid.UUID
	// Handle is the player's current handle.
	Handle() string
	// Removed reports whether a moderator removed the player since the handle was
	// obtained; its clicks no longer count.
	Removed() bool
}

// Event is a change to one player made by another process of the same game.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// ID is the player it happened to.
	ID uuid.UUID
	// Reason is a ban's reason.
	Reason string
}

// EventKind is the kind of an Event.
type EventKind int

const (
	// PlayerRemoved means a moderator removed the player: close its sockets.
	PlayerRemoved EventKind = iota + 1
	// PlayerBanned means a moderator banned the player: close its sockets, saying why.
	PlayerBanned
)

// ErrNoPlayer matches (with errors.Is) the error for an id the game does not know,
// or a player removed while a socket still held it.
var ErrNoPlayer = errors.New("no such player")

// ErrBanned matches (with errors.Is) the *BannedError of a banned identity.
var ErrBanned = errors.New("banned by the moderators")

// BannedError is the error for an identity a moderator banned.
type BannedError struct {
	Ban
}

// Error says why, in words for the player.
func (e *BannedError) Error() string { return "This player was banned by the moderators: " + e.Reason }

// Is makes errors.Is(err, ErrBanned) true.
func (e *BannedError) Is(target error) bool { return target == ErrBanned }

// Ban is one ban in force.
type Ban struct {
	// Reason is the moderator's, shown to the player.
	Reason string
	// At is when the ban was set.
	At time.Time
}

// BanInfo is a ban and whom it holds.
type BanInfo struct {
	Ban
	// ID is the banned identity.
	ID uuid.UUID
	// Handle is the player's handle, when the player is still in the game.
	Handle string
}

// MaxBanReason is the longest reason a ban may give, in bytes.
const MaxBanReason = 200

// CheckBanReason refuses a reason that is empty, too long or holds control characters.
func CheckBanReason(reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return errors.New("a ban needs a reason, shown to the player")
	case len(reason) > MaxBanReason:
		return fmt.Errorf("a ban's reason must be at most %d bytes", MaxBanReason)
	case !utf8.ValidString(reason) || strings.IndexFunc(reason, unicode.IsControl) >= 0:
		return errors.New("a ban's reason must be plain text, without control characters")
	}
	return nil
}

// ErrHandleLocked matches the error of a rename refused because a moderator set the
// handle.
var ErrHandleLocked = errors.New("your handle was set by a moderator and cannot be changed")

// ErrUnavailable matches the error of an operation that could not reach the game's
// storage. Nothing was lost: the operation either did not happen or will be seen
// complete. Retrying later is the remedy.
var ErrUnavailable = errors.New("the game's storage is unreachable")
