package protocol

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Golden frames: testdata/golden/<type>[.<case>].json holds one server frame of that
// type, body.<Go type>[.<case>].json one HTTP body or client frame. The page's tests
// (frontend/src/lib/golden.test.ts) decode the same files.

// goldenDir is where the golden frames are, relative to this package.
const goldenDir = "testdata/golden"

// goldenType returns the Go type a golden file holds.
func goldenType(t *testing.T, name string) reflect.Type {
	t.Helper()
	kind, _, _ := strings.Cut(strings.TrimSuffix(name, ".json"), ".")
	if kind == "body" {
		body := strings.Split(name, ".")[1]
		for _, v := range Types() {
			if reflect.TypeOf(v).Name() == body {
				return reflect.TypeOf(v)
			}
		}
		t.Fatalf("%s: no type %s in Types()", name, body)
	}
	for _, f := range ServerFrames() {
		if f.Type == kind {
			return reflect.TypeOf(f.Value)
		}
	}
	t.Fatalf("%s: no frame of type %q in ServerFrames()", name, kind)
	return nil
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	return names
}

// TestGoldenFramesAreTheGoTypes: every golden file decodes into its Go type with no
// field unknown to it, and encodes back to the very same bytes; so the files say
// exactly what the server's encoders (which encode these types) write.
func TestGoldenFramesAreTheGoTypes(t *testing.T) {
	for _, path := range goldenFiles(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			raw = bytes.TrimSuffix(raw, []byte("\n"))
			v := reflect.New(goldenType(t, name))
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v.Interface()); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if kind, _, _ := strings.Cut(name, "."); kind != "body" {
				if typ := v.Elem().FieldByName("Type").String(); typ != kind {
					t.Fatalf("type %q in a file for %q", typ, kind)
				}
			}
			out, err := json.Marshal(v.Interface())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, raw) {
				t.Fatalf("encodes to\n%s\nnot\n%s", out, raw)
			}
		})
	}
}

// TestEveryFrameHasAGoldenFile: a new frame type cannot go without one.
func TestEveryFrameHasAGoldenFile(t *testing.T) {
	have := map[string]bool{}
	for _, path := range goldenFiles(t) {
		kind, _, _ := strings.Cut(filepath.Base(path), ".")
		have[kind] = true
	}
	for _, f := range ServerFrames() {
		if !have[f.Type] {
			t.Errorf("no golden file for frame %q", f.Type)
		}
	}
}
