// Package protocol is the wire protocol of docs/protocol.md, written once: the JSON
// shapes of the HTTP API's bodies and of the WebSocket frames, as Go types. The server
// encodes these types, the load generator and the bare server decode or check against
// them, and cmd/protogen generates the page's TypeScript types and validating decoders
// (frontend/src/lib/protocol.gen.ts) from them. The golden frames in testdata/golden
// are decoded and encoded on both sides, so a change to a frame cannot drift.
//
// A field tagged `ts:"optional"` may be absent on the wire (the page accepts it
// missing); a field tagged `ts:"nonempty"` must be a non-empty string; `ts:"min=1"` an
// integer of at least 1. Every integer is a non-negative safe integer.
package protocol

// Frame types, the "type" field of every WebSocket frame.
const (
	TypeState      = "state"
	TypeBoard      = "board"
	TypeBoardDelta = "board_delta"
	TypeStats      = "stats"
	TypeRank       = "rank"
	TypeError      = "error"
	TypeClick      = "click"
	TypeResync     = "resync"
)

// Error codes, the "code" of error bodies and error frames that a client acts on.
const (
	// CodeUnavailable: the game's storage is unreachable; nothing happened, retry.
	CodeUnavailable = "unavailable"
	// CodeBanned: a moderator banned the identity; Reason says why.
	CodeBanned = "banned"
	// CodeHandleLocked: a moderator set the handle; the player cannot rename.
	CodeHandleLocked = "handle_locked"
)

// Session is what a player sees of themselves: the body of a state frame and, with
// the rules, of the HTTP session answer.
type Session struct {
	Handle       string `json:"handle"`
	Tag          string `json:"tag"`
	Score        int64  `json:"score"`
	Best         int64  `json:"best"`
	Total        int64  `json:"total"`
	Throttled    bool   `json:"throttled"`
	RetryAfterMs int64  `json:"retry_after_ms"`
	IdleReset    bool   `json:"idle_reset"`
}

// Rules are the rules in force, in the HTTP session answer only.
type Rules struct {
	ThrottleLimit     int   `json:"throttle_limit"`
	ThrottleWindowMs  int64 `json:"throttle_window_ms"`
	ThrottlePenaltyMs int64 `json:"throttle_penalty_ms"`
	IdleResetMs       int64 `json:"idle_reset_ms"`
}

// SessionResponse is the answer of GET and POST api/session.
type SessionResponse struct {
	Session
	Rules Rules `json:"rules"`
}

// Row is one line of the leaderboard, or a neighbour in a rank frame.
type Row struct {
	Rank   int    `json:"rank" ts:"min=1"`
	Tag    string `json:"tag" ts:"nonempty"`
	Handle string `json:"handle"`
	Best   int64  `json:"best"`
}

// Counters are the game-wide counters every board and stats frame carries.
type Counters struct {
	TotalClicks int64 `json:"total_clicks"`
	Players     int64 `json:"players"`
	Online      int64 `json:"online"`
}

// Leaderboard is the answer of GET api/leaderboard.
type Leaderboard struct {
	Top []Row `json:"top"`
	Counters
}

// StatsResponse is the answer of GET api/stats.
type StatsResponse struct {
	Counters
	PeakOnline       int64 `json:"peak_online"`
	ReturningPlayers int64 `json:"returning_players"`
	// Rate is as in StatsFrame.
	Rate []int64 `json:"rate,omitempty" ts:"optional"`
}

// ErrorBody is every HTTP error answer.
type ErrorBody struct {
	Error string `json:"error"`
	// Code is set when a client should act on the reason.
	Code string `json:"code,omitempty" ts:"optional"`
	// Reason is a ban's reason, with Code "banned".
	Reason string `json:"reason,omitempty" ts:"optional"`
}

// StateFrame is the player's own state: on connect, in answer to every click, and
// when it changed by other means.
type StateFrame struct {
	Type string `json:"type"`
	Session
}

// BoardFrame is the whole leaderboard.
type BoardFrame struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
	Rows []Row  `json:"rows"`
	Counters
	// Rate is as in StatsFrame, so that a new socket draws the pulse at once.
	Rate []int64 `json:"rate,omitempty" ts:"optional"`
}

// BoardDeltaFrame is what changed since the board with Seq-1.
type BoardDeltaFrame struct {
	Type string   `json:"type"`
	Seq  uint64   `json:"seq"`
	Size int      `json:"size"`
	Rows []Row    `json:"rows"`
	Drop []string `json:"drop"`
	Counters
}

// StatsFrame is the counters alone, when the board did not change.
type StatsFrame struct {
	Type string `json:"type"`
	Counters
	// Rate is the game's counted clicks per second over the last 60 seconds, oldest
	// first; only in the frame of the tick that completed a second (absent otherwise).
	Rate []int64 `json:"rate,omitempty" ts:"optional"`
}

// RankFrame is the player's rank among all players and the players just above and
// below, sent at most once a second and only when it changed.
type RankFrame struct {
	Type string `json:"type"`
	// Rank is 1 + the players with a strictly higher best (ties share it); 0 while the
	// player has no best (or is hidden).
	Rank int64 `json:"rank"`
	// Of is the number of players with a best.
	Of int64 `json:"of"`
	// Best is the best the rank is for.
	Best int64 `json:"best"`
	// Above are up to two players just above, best first; Below up to two just below.
	Above []Row `json:"above"`
	Below []Row `json:"below"`
}

// ErrorFrame is a refused client frame, or a click that could not be stored.
type ErrorFrame struct {
	Type  string `json:"type"`
	Error string `json:"error"`
	Code  string `json:"code,omitempty" ts:"optional"`
}

// ClientFrame is every frame a client sends: {"type":"click"} or {"type":"resync"}.
type ClientFrame struct {
	Type string `json:"type"`
}

// Frame is one kind of server-to-client frame: its type name and a zero value of its
// Go type.
type Frame struct {
	Type  string
	Value any
}

// ServerFrames lists every server-to-client frame: the generator writes a decoder for
// each, and the golden tests check that each has a golden file.
func ServerFrames() []Frame {
	return []Frame{
		{TypeState, StateFrame{}},
		{TypeBoard, BoardFrame{}},
		{TypeBoardDelta, BoardDeltaFrame{}},
		{TypeStats, StatsFrame{}},
		{TypeRank, RankFrame{}},
		{TypeError, ErrorFrame{}},
	}
}

// Types lists the other shapes the generator writes types and decoders for, in the
// order it writes them: the parts frames are made of, and the HTTP bodies.
func Types() []any {
	return []any{Row{}, Counters{}, Session{}, Rules{}, SessionResponse{}, Leaderboard{}, StatsResponse{}, ErrorBody{}, ClientFrame{}}
}
