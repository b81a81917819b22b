package main

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/game/redisgame"
)

// TestBuckets checks that every value lands in a bucket whose bounds hold it, and
// that the buckets are ordered and no wider than 1/64 of their values.
func TestBuckets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := []uint64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 1 << 40, 1<<63 - 1, 1 << 63}
	for range 10000 {
		vals = append(vals, rng.Uint64()>>rng.IntN(64))
	}
	for _, v := range vals {
		i := bucketOf(v)
		lo, hi := bucketBounds(i)
		if v < lo || v > hi {
			t.Fatalf("bucketOf(%d) = %d, bounds [%d, %d]", v, i, lo, hi)
		}
		if hi-lo > lo/subBuckets {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/%d", i, lo, hi, subBuckets)
		}
		if i > 0 {
			if _, prev := bucketBounds(i - 1); prev+1 != lo {
				t.Fatalf("bucket %d starts at %d, the one before ends at %d", i, lo, prev)
			}
		}
	}
}

// TestQuantile compares the histogram's quantiles with a sorted sample's.
func TestQuantile(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var h, a, b histogram
	var all []time.Duration
	for i := range 100_000 {
		d := time.Duration(rng.ExpFloat64() * float64(200*time.Microsecond))
		all = append(all, d)
		h.record(d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	a.merge(&b)
	slices.Sort(all)
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
		want := all[int(q*float64(len(all)-1))]
		for _, hh := range []*histogram{&h, &a} {
			got := hh.quantile(q)
			if diff := got - want; diff < -want/64-1 || diff > want/64+1 {
				t.Errorf("quantile(%v) = %s, want %s within 1/64", q, got, want)
			}
		}
	}
	var empty histogram
	if got := empty.quantile(0.5); got != 0 {
		t.Errorf("empty quantile = %s", got)
	}
}

// TestParseBenchmarkCSV reads redis-benchmark 7.0's --csv output.
func TestParseBenchmarkCSV(t *testing.T) {
	out := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"EVALSHA abc 3 ctb:{p00}:pl:__rand_int__ ctb:{p00}:part ctb:{p00}:board 50 1000 60000000 300000000 100 0123 ","85034.02","9.100","1.000","8.959","11.000","12.431","20.000"
`
	f, err := parseBenchmarkCSV([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if f.rps != 85034.02 || f.p50 != 8959*time.Microsecond || f.p99 != 12431*time.Microsecond {
		t.Errorf("got %+v", f)
	}
	for _, bad := range []string{"", `"test","rps"` + "\n", `"test","rps"` + "\n" + `"x","0"` + "\n"} {
		if _, err := parseBenchmarkCSV([]byte(bad)); err == nil {
			t.Errorf("parseBenchmarkCSV(%q): no error", bad)
		}
	}
}

// TestBenchmarkArgs checks the command's shape: the click script's keys, of which the
// first is the template redis-benchmark's random numbers turn into the players' keys,
// all in one partition, then the script's arguments as the backend passes them.
func TestBenchmarkArgs(t *testing.T) {
	args := benchmarkArgs("127.0.0.1", "27391", "sha", ceilingConfig{players: 5000, conns: 50, pipeline: 16, requests: 1000})
	i := slices.Index(args, "EVALSHA")
	if i < 0 || args[i+1] != "sha" {
		t.Fatalf("args %q", args)
	}
	want := "redis-benchmark -h 127.0.0.1 -p 27391 -c 50 -P 16 -n 1000 -r 5000 --csv"
	if got := "redis-benchmark " + shellLine(args[:i]); got != want {
		t.Errorf("command\n got %s\nwant %s", got, want)
	}
	_, _, id := ceilingKeys()
	realKeys, _ := redisgame.ClickKeys(id)
	nkeys, err := strconv.Atoi(args[i+2])
	if err != nil || nkeys != len(realKeys) {
		t.Fatalf("numkeys %q, the script takes %d", args[i+2], len(realKeys))
	}
	keys := args[i+3 : i+3+nkeys]
	if got := strings.Replace(keys[0], "__rand_int__", "000000004999", 1); got != ceilingKey(4999) {
		t.Errorf("key template gives %q, players are %q", got, ceilingKey(4999))
	}
	if !slices.Equal(keys[1:], realKeys[1:]) {
		t.Errorf("keys %q, a player of that partition has %q", keys[1:], realKeys[1:])
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "ctb:{p00}:") {
			t.Errorf("key %q is not in partition 00", k)
		}
	}
	if got, want := args[i+3+nkeys:], redisgame.ClickArgs(game.DefaultConfig(), id, ""); !slices.Equal(got, want) {
		t.Errorf("arguments %q, want %q", got, want)
	}
	if got := shellLine([]string{"it's"}); got != `'it'\''s'` {
		t.Errorf("shellLine quote: %s", got)
	}
}
