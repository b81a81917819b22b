package server

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
)

// The acknowledgement of every click is a state frame. The two benchmarks compare the
// hand-written encoder the server uses with encoding/json, in the same run.

// stateFrame is the state frame as encoding/json would write it: the reference the
// hand-written stateFrameJSON is checked and measured against.
type stateFrame struct {
	Type string `json:"type"`
	sessionJSON
}

var benchState = game.State{Handle: "alice the clicker", Score: 1234, Best: 5678, Total: 91011}

func BenchmarkStateFrameJSON(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = mustJSON(stateFrame{Type: "state", sessionJSON: newSessionJSON(benchState, "k3j9ab2x")})
	}
}

func BenchmarkStateFrameHand(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = stateFrameJSON(newSessionJSON(benchState, "k3j9ab2x"))
	}
}

// TestStateFrameJSON: the hand-written encoder says exactly what encoding/json says,
// for ordinary handles and for strings no valid handle could hold.
func TestStateFrameJSON(t *testing.T) {
	states := []game.State{
		benchState,
		{Handle: "Zoë 東京 é", Throttled: true, RetryAfter: 1500 * time.Millisecond, IdleReset: true},
		{Handle: "quote\" back\\slash\nnew\x01line\t<b>&", Score: 1 << 52},
		{Handle: "bad utf-8 \xff\xfe"},
		{},
	}
	for _, st := range states {
		s := newSessionJSON(st, "k3j9ab2x")
		var got, want map[string]any
		if err := json.Unmarshal(stateFrameJSON(s), &got); err != nil {
			t.Fatalf("%q: not JSON: %v (%s)", st.Handle, err, stateFrameJSON(s))
		}
		json.Unmarshal(mustJSON(stateFrame{Type: "state", sessionJSON: s}), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %v\nwant %v", st.Handle, got, want)
		}
	}
}
