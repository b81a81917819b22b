package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenFrames: the load generator tells every golden frame of internal/protocol
// by its type, and decodes the boards into its rows.
func TestGoldenFrames(t *testing.T) {
	paths, err := filepath.Glob("../../internal/protocol/testdata/golden/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden frames: %v", err)
	}
	want := map[string]int{"state": kState, "board_delta": kDelta, "board": kBoard, "stats": kStats, "error": kError, "rank": kOther}
	for _, path := range paths {
		name := filepath.Base(path)
		typ, _, _ := strings.Cut(name, ".")
		if typ == "body" {
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw = bytes.TrimSuffix(raw, []byte("\n"))
		k, ok := want[typ]
		if !ok {
			t.Fatalf("%s: a frame type the load generator does not know", name)
		}
		if got := kindOf(raw); got != k {
			t.Errorf("%s: kind %s, want %s", name, kindNames[got], kindNames[k])
		}
		if k == kBoard || k == kDelta {
			var m boardMsg
			if err := json.Unmarshal(raw, &m); err != nil || len(m.Rows) == 0 && !strings.Contains(name, "empty") {
				t.Errorf("%s: decoded %+v, %v", name, m, err)
			}
		}
	}
}
