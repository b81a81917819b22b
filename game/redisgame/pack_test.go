package redisgame

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
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
	// luaRead unpacks d and w in a script and returns the ten numbers as text.
	luaRead := func(d, w string) string {
		t.Helper()
		got, err := r.Command("EVAL", prelude+`
local w = ARGV[2]
if w == '' then w = nil end
local v = {unpackd(ARGV[1], w)}
for i = 1, 10 do v[i] = str(v[i]) end
return table.concat(v, ' ', 1, 10)`, "0", d, w)
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
local d, w = packd(unpack(n))
return d .. w`, "0"}, text...)...)
		if err != nil {
			t.Fatal(err)
		}
		// Each field must stay within hash-max-listpack-value (64 bytes by default),
		// or Redis stores every player in its large encoding.
		if len(packed) != 2*41 || packed[0] != 'B' || packed[41] != 'B' {
			t.Fatalf("packd(%s) = %q: want two fields of B and five doubles", want, packed)
		}
		d, w := packed[:41], packed[41:]
		for _, f := range [][2]string{{d, w}, {want, ""}} {
			if got := luaRead(f[0], f[1]); got != want {
				t.Errorf("the scripts read %q, %q as %s, want %s", f[0], f[1], got, want)
			}
			if got, wantGo := unpackD(f[0]), [5]int64(c[:5]); got != wantGo {
				t.Errorf("Go reads %q as %v, want %v", f[0], got, wantGo)
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

// TestPlayersStayCompact: a player who joined, clicked, was throttled and flagged
// keeps the compact encoding of a Redis hash, about a third of the memory of the large
// one (measured: docs/scale-out.md#memory).
func TestPlayersStayCompact(t *testing.T) {
	r := testutil.StartRedis(t)
	flush := func() {
		if _, err := r.Command("FLUSHALL"); err != nil {
			t.Fatal(err)
		}
	}
	cfg := game.DefaultConfig()
	cfg.ThrottleLimit = 5
	cfg.Bots.Action = game.BotThrottle
	cfg.Bots.Rate = 1
	cfg.Bots.Window = time.Second
	b := openGame(t, r.URL(), flush, cfg, 1)[0]
	ctx := context.Background()
	p, err := b.Join(ctx, "sixteen chars ok")
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := b.Click(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if page, _, err := b.Suspects(ctx, 0, 10); err != nil || len(page) != 1 {
		t.Fatalf("suspects %v, %v: the test wants the player flagged", page, err)
	}
	key := redisPlayer(p).key
	if enc, err := r.Command("OBJECT", "ENCODING", key); err != nil || enc != "listpack" {
		t.Fatalf("the player's hash is encoded %q (%v), want listpack", enc, err)
	}
}
