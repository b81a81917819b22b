package game_test

import (
	"testing"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/game/gametest"
)

// TestConformance runs the rules' suite against the in-memory engine. Its nodes are
// one engine: one process is the whole game.
func TestConformance(t *testing.T) {
	gametest.Run(t, func(t *testing.T, cfg game.Config, n int) []game.Backend {
		e, err := game.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.Rebuild() // as a start does after loading the scores
		nodes := make([]game.Backend, n)
		for i := range nodes {
			nodes[i] = e
		}
		return nodes
	})
}
