package redisgame

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/google/uuid"
)

// BenchmarkRanksRedis times one rank refresh of a node's connected players (Ranks) in
// a game of 100,000 or 1,000,000 players on one local redis-server. Bests are spread
// over 0..9,999, so ties are common. Two kinds of refresh:
//   - steady: what a refresh costs most of the time, the rank reads alone (an untimed
//     refresh first does the players' repair, due at their first refresh on a node);
//   - repair: every player's entry read from its partition and synced before its
//     rank is read, as at a player's first refresh and once a RankRepair after.
//
// Besides ns/op it reports the Redis server's time per player refreshed, the share of
// Redis a refresh takes whatever the client's machine does: script-µs/player (the
// scripts' own time) and redis-cpu-µs/player (the server's whole CPU, parsing and
// replies included).
func BenchmarkRanksRedis(b *testing.B) {
	for _, players := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("players=%d", players), func(b *testing.B) {
			r := testutil.StartRedis(b)
			be, ids := rankFixture(b, r.URL(), players)
			for _, connected := range []int{100, 1000, 15_000} {
				for _, kind := range []string{"steady", "repair"} {
					b.Run(fmt.Sprintf("connected=%d/refresh=%s", connected, kind), func(b *testing.B) {
						ps := make([]game.Player, connected)
						var err error
						for i := range ps {
							if ps[i], err = be.Get(context.Background(), ids[i*(players/connected)]); err != nil {
								b.Fatal(err)
							}
						}
						out := make([]game.Rank, connected)
						be.opts.RankRepair = DefaultRankRepair
						if kind == "repair" {
							be.opts.RankRepair = -1
						} else if err := be.Ranks(context.Background(), ps, out); err != nil {
							b.Fatal(err)
						}
						script0, cpu0 := redisMicros(b, r)
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							if err := be.Ranks(context.Background(), ps, out); err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
						script1, cpu1 := redisMicros(b, r)
						b.ReportMetric(float64(script1-script0)/float64(b.N*connected), "script-µs/player")
						b.ReportMetric(float64(cpu1-cpu0)/float64(b.N*connected), "redis-cpu-µs/player")
						b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/refresh")
					})
				}
			}
		})
	}
}

// rankFixture imports players into the Redis at url and opens a node on it.
func rankFixture(b *testing.B, url string, players int) (*Backend, []uuid.UUID) {
	b.Helper()
	var csv bytes.Buffer
	csv.WriteString("id,handle,score,best,total,last_click,best_at\n")
	ids := make([]uuid.UUID, players)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range ids {
		ids[i] = uuid.New()
		best := (i * 7919) % 10_000
		t := at.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		fmt.Fprintf(&csv, "%s,p%d,0,%d,%d,%s,%s\n", ids[i], i, best, best, t, t)
	}
	ctx := context.Background()
	be, err := Open(ctx, Options{URL: url, Rules: game.DefaultConfig(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	data := csv.Bytes()
	if _, err := be.Import(ctx, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, "bench.csv", false); err != nil {
		b.Fatal(err)
	}
	return be, ids
}

// redisMicros is the Redis server's time so far: in scripts (EVALSHA and EVALSHA_RO,
// as INFO commandstats counts them) and its whole CPU (user and system), in µs.
func redisMicros(b *testing.B, r *testutil.Redis) (script, cpu int64) {
	b.Helper()
	info, err := r.Command("INFO", "all")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, _ := strings.Cut(line, ":")
		switch name {
		case "cmdstat_evalsha", "cmdstat_evalsha_ro", "cmdstat_eval", "cmdstat_eval_ro":
			for _, f := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(f, "usec="); ok {
					n, err := strconv.ParseInt(v, 10, 64)
					if err != nil {
						b.Fatal(err)
					}
					script += n
				}
			}
		case "used_cpu_user", "used_cpu_sys":
			s, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				b.Fatal(err)
			}
			cpu += int64(s * 1e6)
		}
	}
	return script, cpu
}
