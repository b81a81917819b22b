package redisgame

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/google/uuid"
)

// BenchmarkRanksRedis times one rank refresh of a node's connected players in a game
// of 100,000 players on one local redis-server: both rounds of scripts over the 64
// partitions, and the merge. Bests are spread over 0..9,999, so ties are common.
func BenchmarkRanksRedis(b *testing.B) {
	const players = 100_000
	r := testutil.StartRedis(b)
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
	be, err := Open(ctx, Options{URL: r.URL(), Rules: game.DefaultConfig(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	data := csv.Bytes()
	if _, err := be.Import(ctx, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, "bench.csv", false); err != nil {
		b.Fatal(err)
	}
	for _, connected := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("connected=%d", connected), func(b *testing.B) {
			ps := make([]game.Player, connected)
			for i := range ps {
				if ps[i], err = be.Get(ctx, ids[i*(players/connected)]); err != nil {
					b.Fatal(err)
				}
			}
			out := make([]game.Rank, connected)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := be.Ranks(ctx, ps, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
