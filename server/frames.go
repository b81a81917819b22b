package server

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/protocol"
)

// The JSON shapes of docs/protocol.md are the types of internal/protocol, their one
// source; the server's names for them follow. Server frames are encoded here and
// nowhere else.
type (
	sessionJSON     = protocol.Session
	rulesJSON       = protocol.Rules
	sessionResponse = protocol.SessionResponse
	rowJSON         = protocol.Row
	statsJSON       = protocol.Counters
	leaderboardJSON = protocol.Leaderboard
	boardFrame      = protocol.BoardFrame
	deltaFrame      = protocol.BoardDeltaFrame
	statsFrame      = protocol.StatsFrame
	rankFrame       = protocol.RankFrame
	errorJSON       = protocol.ErrorBody
	errorFrame      = protocol.ErrorFrame
	clientFrame     = protocol.ClientFrame
)

func newSessionJSON(st game.State, tag string) sessionJSON {
	retry := st.RetryAfter.Milliseconds()
	if st.RetryAfter > 0 && retry == 0 {
		retry = 1 // never tell a waiting player "0 ms"
	}
	return sessionJSON{
		Handle:       st.Handle,
		Tag:          tag,
		Score:        st.Score,
		Best:         st.Best,
		Total:        st.Total,
		Throttled:    st.Throttled,
		RetryAfterMs: retry,
		IdleReset:    st.IdleReset,
	}
}

// newRulesJSON tells the page the rules in force, so its notices name the right numbers.
func newRulesJSON(c game.Config) rulesJSON {
	return rulesJSON{
		ThrottleLimit:     c.ThrottleLimit,
		ThrottleWindowMs:  c.ThrottleWindow.Milliseconds(),
		ThrottlePenaltyMs: c.ThrottlePenalty.Milliseconds(),
		IdleResetMs:       c.IdleReset.Milliseconds(),
	}
}

func newStatsJSON(s game.Stats) statsJSON {
	return statsJSON{TotalClicks: s.TotalClicks, Players: s.Players, Online: s.Online}
}

// Error codes (docs/protocol.md).
const (
	// codeUnavailable marks errors caused by an unreachable storage: nothing was
	// lost, the page pauses and retries.
	codeUnavailable = protocol.CodeUnavailable
	// codeBanned: the cookie's identity is banned; the page says why and stops.
	codeBanned = protocol.CodeBanned
	// codeHandleLocked: a moderator set the handle; the player cannot rename.
	codeHandleLocked = protocol.CodeHandleLocked
)

// pausedMessage is what a player is told while the game's storage is unreachable.
const pausedMessage = "paused: the game's storage is unreachable, retrying"

// pausedFrame answers a click that could not be stored.
var pausedFrame = mustJSON(errorFrame{Type: protocol.TypeError, Error: pausedMessage, Code: codeUnavailable})

// stateFrameJSON encodes a state frame by hand: it answers every click, and this costs
// one allocation where encoding/json costs several and six times the time. The result
// is its own slice, since the socket's queue keeps it until it is written.
func stateFrameJSON(s sessionJSON) []byte {
	b := make([]byte, 0, 160+len(s.Handle))
	b = append(b, `{"type":"state","handle":`...)
	b = appendJSONString(b, s.Handle)
	b = append(b, `,"tag":`...)
	b = appendJSONString(b, s.Tag)
	b = append(b, `,"score":`...)
	b = strconv.AppendInt(b, s.Score, 10)
	b = append(b, `,"best":`...)
	b = strconv.AppendInt(b, s.Best, 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, s.Total, 10)
	b = append(b, `,"throttled":`...)
	b = strconv.AppendBool(b, s.Throttled)
	b = append(b, `,"retry_after_ms":`...)
	b = strconv.AppendInt(b, s.RetryAfterMs, 10)
	b = append(b, `,"idle_reset":`...)
	b = strconv.AppendBool(b, s.IdleReset)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Valid handles never need escaping, but
// the encoder does not rely on that: quotes, backslashes and control characters are
// escaped, and anything that is not valid UTF-8 goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		return append(b, mustJSON(s)...)
	}
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// mustJSON encodes frames built from plain fields, which cannot fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("encode frame: " + err.Error())
	}
	return b
}
