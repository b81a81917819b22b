package redisgame

import (
	"context"
	"log/slog"
	"testing"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/game/gametest"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
)

// openGame empties the Redis at url and opens n nodes of a game with cfg on it. They
// sync ranks at every Tick (RankSync -1), so the suite's rank checks need not wait out
// the default second.
func openGame(t *testing.T, url string, flush func(), cfg game.Config, n int) []*Backend {
	t.Helper()
	flush()
	nodes := make([]*Backend, n)
	for i := range nodes {
		b, err := Open(context.Background(), Options{URL: url, Rules: cfg, Log: slog.New(slog.DiscardHandler), RankSync: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		nodes[i] = b
	}
	return nodes
}

func asBackends(nodes []*Backend) []game.Backend {
	out := make([]game.Backend, len(nodes))
	for i, b := range nodes {
		out[i] = b
	}
	return out
}

// TestConformance runs the rules' suite against a real redis-server, each node a
// Backend of its own on it, as separate processes would be.
func TestConformance(t *testing.T) {
	r := testutil.StartRedis(t)
	flush := func() {
		if _, err := r.Command("FLUSHALL"); err != nil {
			t.Fatal(err)
		}
	}
	gametest.Run(t, func(t *testing.T, cfg game.Config, n int) []game.Backend {
		return asBackends(openGame(t, r.URL(), flush, cfg, n))
	})
}

// TestConformanceCluster runs the rules' suite against a local Redis Cluster of three
// masters: every script must touch one slot only, and the board must merge the
// partitions spread over the shards.
func TestConformanceCluster(t *testing.T) {
	c := testutil.StartRedisCluster(t, 3)
	flush := func() {
		for _, n := range c.Nodes {
			if _, err := n.Command("FLUSHALL"); err != nil {
				t.Fatal(err)
			}
		}
	}
	gametest.Run(t, func(t *testing.T, cfg game.Config, n int) []game.Backend {
		return asBackends(openGame(t, c.URL(), flush, cfg, n))
	})
}
