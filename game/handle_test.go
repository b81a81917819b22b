package game

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeHandleValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "alice", "alice"},
		{"single letter", "a", "a"},
		{"single digit", "7", "7"},
		{"digits first", "42isTheAnswer", "42isTheAnswer"},
		{"punctuation inside", "a_b-c.d", "a_b-c.d"},
		{"punctuation at end", "bob.", "bob."},
		{"double punctuation", "x__y--z..", "x__y--z.."},
		{"trimmed", "   alice  ", "alice"},
		{"spaces folded", "alice    in   wonderland", "alice in wonderland"},
		{"trim and fold", "  a  b  ", "a b"},
		{"NFC composes e acute", "caf" + "e\u0301", "caf\u00e9"},
		{"NFC composes in the middle", "Zo" + "e\u0308", "Zo\u00eb"},
		{"already NFC", "Zo\u00eb", "Zo\u00eb"},
		{"Hangul jamo compose", "\u1100\u1161", "\uac00"},
		{"CJK", "東京", "東京"},
		{"Cyrillic", "Привет", "Привет"},
		{"Greek", "Αθήνα", "Αθήνα"},
		{"Arabic letters", "مرحبا", "مرحبا"},
		{"Devanagari with vowel signs", "नमस्ते", "नमस्ते"},
		{"Arabic-Indic digits", "٣٤٥", "٣٤٥"},
		{"three combining marks on a letter", "x\u0301\u0302\u0303", "x\u0301\u0302\u0303"},
		{"marks on several letters", "x\u0301\u0302\u0303q\u0301\u0302\u0303", "x\u0301\u0302\u0303q\u0301\u0302\u0303"},
		{"24 ASCII characters", strings.Repeat("a", 24), strings.Repeat("a", 24)},
		{"24 CJK characters", strings.Repeat("東", 24), strings.Repeat("東", 24)},
		{"24 after folding", "   abcdefghij      klmnopqrstu  v   ", "abcdefghij klmnopqrstu v"},
		{"24 after NFC", strings.Repeat("e\u0301", 24), strings.Repeat("\u00e9", 24)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeHandle(tc.in)
			if err != nil {
				t.Fatalf("NormalizeHandle(%q) error %v, want %q", tc.in, err, tc.want)
			}
			if got != tc.want {
				t.Fatalf("NormalizeHandle(%q) = %q, want %q", tc.in, got, tc.want)
			}
			// A normalised handle is a fixed point.
			again, err := NormalizeHandle(got)
			if err != nil || again != got {
				t.Fatalf("NormalizeHandle(%q) = %q, %v; want the same handle back", got, again, err)
			}
			if n := utf8.RuneCountInString(got); n < 1 || n > MaxHandleLen {
				t.Fatalf("%q has %d characters", got, n)
			}
		})
	}
}

func TestNormalizeHandleInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // a substring of the error message
	}{
		{"empty", "", "empty"},
		{"only spaces", "     ", "empty"},
		{"25 ASCII characters", strings.Repeat("a", 25), "at most 24 characters (got 25)"},
		{"25 CJK characters", strings.Repeat("東", 25), "at most 24 characters (got 25)"},
		{"25 after NFC", strings.Repeat("e\u0301", 25), "at most 24 characters (got 25)"},
		{"marks count as characters", "x\u0301\u0302\u0303" + strings.Repeat("a", 21), "at most 24 characters (got 25)"},
		{"10 KB", strings.Repeat("a", 10<<10), "at most 24 characters"},
		{"10 KB of spaces", strings.Repeat(" ", 10<<10), "at most 24 characters"},
		{"invalid UTF-8", "ab\xffcd", "UTF-8"},
		{"truncated UTF-8", "ab\xe6\x9d", "UTF-8"},
		{"UTF-16 surrogate encoded", "ab\xed\xa0\x80", "UTF-8"},
		{"tab", "a\tb", `'\t'`},
		{"leading tab", "\talice", `'\t'`},
		{"newline", "a\nb", `'\n'`},
		{"trailing newline", "alice\n", `'\n'`},
		{"carriage return", "a\rb", `'\r'`},
		{"NUL", "a\x00b", `'\x00'`},
		{"escape", "a\x1bb", `'\x1b'`},
		{"DEL", "a\x7fb", `'\x7f'`},
		{"C1 control", "a\u0085b", `'\u0085'`},
		{"no-break space", "a\u00a0b", `'\u00a0'`},
		{"ideographic space", "a\u3000b", `'\u3000'`},
		{"zero-width space", "a\u200bb", `'\u200b'`},
		{"zero-width joiner", "a\u200db", `'\u200d'`},
		{"byte order mark", "\ufeffalice", `'\ufeff'`},
		{"right-to-left override", "a\u202eb", `'\u202e'`},
		{"left-to-right isolate", "a\u2066b", `'\u2066'`},
		{"less than", "<script>", `'<'`},
		{"less than inside", "a<b", `'<'`},
		{"greater than", "a>b", `'>'`},
		{"equals", "a=b", `'='`},
		{"plus", "a+b", `'+'`},
		{"at", "a@b", `'@'`},
		{"ampersand", "a&b", `'&'`},
		{"quote", `a"b`, `'"'`},
		{"apostrophe", "a'b", `'\''`},
		{"comma", "a,b", `','`},
		{"slash", "a/b", `'/'`},
		{"emoji", "a😀", `'😀'`},
		{"superscript digit", "a²", `'²'`},
		{"starts with underscore", "_alice", "must start with a letter or digit"},
		{"starts with dash", "-alice", "must start with a letter or digit"},
		{"starts with dot", ".alice", "must start with a letter or digit"},
		{"starts with combining mark", "\u0301alice", "combining mark"},
		{"mark after space", "a \u0301b", "combining mark"},
		{"mark after punctuation", "a_\u0301", "combining mark"},
		{"mark after digit", "1\u0336", "combining mark"},
		{"keycap on digit", "1\u20e3", "combining mark"},
		{"four marks on a letter", "x\u0301\u0302\u0303\u0304", "too many combining marks"},
		{"zalgo", "z\u0336\u0337\u0338\u0335\u0334a", "too many combining marks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeHandle(tc.in)
			if err == nil {
				t.Fatalf("NormalizeHandle(%q) = %q, want an error", tc.in, got)
			}
			if got != "" {
				t.Errorf("NormalizeHandle(%q) returned %q along with the error", tc.in, got)
			}
			if !errors.Is(err, ErrInvalidHandle) {
				t.Errorf("errors.Is(%v, ErrInvalidHandle) = false", err)
			}
			var he *HandleError
			if !errors.As(err, &he) {
				t.Fatalf("error %T is not a *HandleError", err)
			}
			if he.Reason == "" || err.Error() != he.Reason {
				t.Errorf("Reason %q, Error() %q: want the same non-empty reason", he.Reason, err.Error())
			}
			if !strings.Contains(err.Error(), "handle") {
				t.Errorf("error %q does not say it is about the handle", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if len(err.Error()) > 200 || !utf8.ValidString(err.Error()) {
				t.Errorf("error message is not short, valid text: %q", err)
			}
		})
	}
}

func TestNormalizeHandleErrorIsSpecific(t *testing.T) {
	// Different faults give different messages, so the player knows what to fix.
	inputs := []string{"", strings.Repeat("a", 25), "a\xff", "a<b", "_a", "x\u0301\u0302\u0303\u0304", "a \u0301"}
	seen := map[string]string{}
	for _, in := range inputs {
		_, err := NormalizeHandle(in)
		if err == nil {
			t.Fatalf("NormalizeHandle(%q) succeeded", in)
		}
		if prev, ok := seen[err.Error()]; ok {
			t.Errorf("%q and %q give the same message %q", prev, in, err)
		}
		seen[err.Error()] = in
	}
}

func TestHandleErrorIs(t *testing.T) {
	var err error = &HandleError{Reason: "x"}
	if !errors.Is(err, ErrInvalidHandle) {
		t.Error("HandleError is not ErrInvalidHandle")
	}
	if errors.Is(err, errors.New("invalid handle")) {
		t.Error("HandleError matches an unrelated error")
	}
}

func FuzzNormalizeHandle(f *testing.F) {
	for _, s := range []string{"alice", "  a  b ", "e\u0301", "a\u200bb", "東京", "x\u0301\u0302\u0303\u0304", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := NormalizeHandle(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidHandle) || err.Error() == "" {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if n := utf8.RuneCountInString(h); n < 1 || n > MaxHandleLen {
			t.Fatalf("%q has %d characters", h, n)
		}
		if h != strings.TrimSpace(h) || strings.Contains(h, "  ") {
			t.Fatalf("%q is not trimmed and folded", h)
		}
		if again, err := NormalizeHandle(h); err != nil || again != h {
			t.Fatalf("not idempotent: %q -> %q, %v", h, again, err)
		}
	})
}
