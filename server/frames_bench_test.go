package server

import (
	"strconv"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
)

// The acknowledgement of every click is a state frame. BenchmarkStateFrameJSON is what
// the server does today (encoding/json through mustJSON); BenchmarkStateFrameAppend is
// the hand-written encoder docs/benchmarks.md proposes, kept here so the two can be
// compared in the same run. TestStateFrameAppend checks they produce the same bytes.

var benchState = game.State{Handle: "alice the clicker", Score: 1234, Best: 5678, Total: 91011, RetryAfter: 0}

func BenchmarkStateFrameJSON(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = mustJSON(stateFrame{Type: "state", sessionJSON: newSessionJSON(benchState, "k3j9ab2x")})
	}
}

func BenchmarkStateFrameAppend(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for i := 0; i < b.N; i++ {
		buf = appendStateFrameBench(buf[:0], newSessionJSON(benchState, "k3j9ab2x"))
	}
}

func TestStateFrameAppend(t *testing.T) {
	for _, st := range []game.State{benchState, {Handle: "<b>&é", Throttled: true, RetryAfter: 1500 * time.Millisecond, IdleReset: true}} {
		s := newSessionJSON(st, "k3j9ab2x")
		want := string(mustJSON(stateFrame{Type: "state", sessionJSON: s}))
		if got := string(appendStateFrameBench(nil, s)); got != want {
			t.Errorf("append encoder:\n got %s\nwant %s", got, want)
		}
	}
}

// appendStateFrameBench encodes a state frame like encoding/json does (HTML-escaping
// included, via strconv for the common case and json for anything unusual).
func appendStateFrameBench(b []byte, s sessionJSON) []byte {
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

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			return append(b, mustJSON(s)...) // rare: let encoding/json escape it
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
