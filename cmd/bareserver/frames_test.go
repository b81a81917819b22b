package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/clickthebutton/clickthebutton/internal/protocol"
)

// strict decodes raw into v, refusing fields v does not have, and checks that v
// encodes back to raw: the hand-built frame is exactly the protocol type, every field
// in its place.
func strict(t *testing.T, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, raw) {
		t.Fatalf("hand-built\n%s\nprotocol type says\n%s", raw, out)
	}
}

// TestFramesAreTheProtocol: the bare server's hand-built frames are those of
// internal/protocol, so comparing it with the game compares the same bytes on the wire.
func TestFramesAreTheProtocol(t *testing.T) {
	tests := []struct {
		name   string
		handle string
		n      int64
	}{
		{"plain", "alice", 13},
		{"unicode", "Zoë 東京", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &player{tag: "t0000001", handle: tc.handle}
			var st protocol.StateFrame
			strict(t, stateFrame(p, tc.n), &st)
			if st.Type != protocol.TypeState || st.Handle != tc.handle || st.Best != tc.n {
				t.Fatalf("state frame %+v", st)
			}
			var row protocol.Row
			strict(t, appendRow(nil, 3, p.tag, p.handle, tc.n), &row)
			if row.Rank != 3 || row.Handle != tc.handle {
				t.Fatalf("row %+v", row)
			}
		})
	}
}
