package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
)

// FuzzFrameType: no client frame can panic the decoder, and every accepted frame is
// valid UTF-8 JSON with a non-empty type.
func FuzzFrameType(f *testing.F) {
	for _, s := range []string{`{"type":"click"}`, `{"type":"resync"}`, `{"type":""}`, `{}`, `[]`, `null`, "\xff", `{"type":"click","x":[1,{"y":null}]}`, `{"type":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		typ, err := frameType(msg)
		if err != nil {
			if typ != "" {
				t.Fatalf("refused frame %q still gave type %q", msg, typ)
			}
			return
		}
		if typ == "" || !utf8.Valid(msg) {
			t.Fatalf("accepted frame %q with type %q", msg, typ)
		}
	})
}

// FuzzCookieDecode: no cookie value can panic the decoder or pass without the key.
func FuzzCookieDecode(f *testing.F) {
	id := newIdentity([]byte("fuzzing secret of some length"))
	good := id.encode(uuid.MustParse("7d444840-9dc0-11d1-b245-5ffdce74fad2"), "alice")
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add(strings.Repeat("A", 600))
	f.Add(good[:len(good)-2] + "xx")
	other := newIdentity([]byte("some other secret entirely"))
	f.Fuzz(func(t *testing.T, v string) {
		gotID, handle, err := id.decode(v)
		if err != nil {
			return
		}
		// Anything accepted must be exactly what this key signed.
		if id.encode(gotID, handle) != v {
			t.Fatalf("accepted %q, which this key would not have produced", v)
		}
		if _, _, err := other.decode(v); err == nil {
			t.Fatalf("%q accepted under two keys", v)
		}
	})
}
