package server

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/clickthebutton/clickthebutton/internal/protocol"
)

// TestStateFrameMatchesGolden: the hand-written state frame encoder writes the golden
// state frames of internal/protocol byte for byte, so it says what protocol.StateFrame
// (and the page's generated decoder) says.
func TestStateFrameMatchesGolden(t *testing.T) {
	paths, err := filepath.Glob("../internal/protocol/testdata/golden/state*.json")
	if err != nil || len(paths) < 2 {
		t.Fatalf("golden state frames: %v %v", paths, err)
	}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw = bytes.TrimSuffix(raw, []byte("\n"))
		var f protocol.StateFrame
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		if got := stateFrameJSON(f.Session); !bytes.Equal(got, raw) {
			t.Errorf("%s:\n got %s\nwant %s", filepath.Base(path), got, raw)
		}
	}
}
