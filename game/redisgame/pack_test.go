package redisgame

import (
	"strconv"
	"strings"
	"testing"

	"github.com/clickthebutton/clickthebutton/internal/testutil"
)

// TestPackedNumbers: the scripts pack a player's numbers as doubles, and both the
// scripts and Go read them back exactly, up to the largest integer a double holds and
// for µs clocks; the text earlier versions wrote reads the same on both sides.
func TestPackedNumbers(t *testing.T) {
	r := testutil.StartRedis(t)
	const maxExact = 1<<53 - 1
	cases := [][10]int64{
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{17, 4012, 1764590400123456, 98765, 1764590461654321, 1764590461654, 50, 1764590461000001, 1764590521000001, 77},
		{maxExact, maxExact, maxExact, maxExact, maxExact, maxExact, maxExact, maxExact, maxExact, maxExact},
	}
	// luaRead unpacks d in a script and returns the ten numbers as text.
	luaRead := func(d string) string {
		t.Helper()
		got, err := r.Command("EVAL", prelude+`
local v = {unpackd(ARGV[1])}
for i = 1, 10 do v[i] = str(v[i]) end
return table.concat(v, ' ', 1, 10)`, "0", d)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, c := range cases {
		text := make([]string, len(c))
		for i, n := range c {
			text[i] = strconv.FormatInt(n, 10)
		}
		want := strings.Join(text, " ")
		packed, err := r.Command(append([]string{"EVAL", prelude + `
local n = {}
for i = 1, 10 do n[i] = tonumber(ARGV[i]) end
return packd(unpack(n))`, "0"}, text...)...)
		if err != nil {
			t.Fatal(err)
		}
		if len(packed) != 81 || packed[0] != 'B' {
			t.Fatalf("packd(%s) = %q: want B and ten doubles", want, packed)
		}
		for _, d := range []string{packed, want} {
			if got := luaRead(d); got != want {
				t.Errorf("the scripts read %q as %s, want %s", d, got, want)
			}
			if got, wantGo := unpackD(d), [5]int64(c[:5]); got != wantGo {
				t.Errorf("Go reads %q as %v, want %v", d, got, wantGo)
			}
		}
	}
	if got := unpackD(""); got != ([5]int64{}) {
		t.Errorf("an empty d reads as %v", got)
	}
	if got := unpackD("B short"); got != ([5]int64{}) {
		t.Errorf("a truncated d reads as %v", got)
	}
}
