package server

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/protocol"
	"github.com/google/uuid"
)

// Every socket's rank among all players, the "rank" frame of docs/protocol.md. Once a
// second the hub asks the backend for the ranks of the players of every open socket in
// one batch, and sends a socket its player's frame only when it differs from the last
// one that socket got. It runs beside the tick, not in it: in Redis a batch is two
// rounds of calls, which the board's tick must not wait for.

// rankInterval is how often ranks are refreshed: a player gets at most one rank frame
// a second.
const rankInterval = time.Second

// runRanks refreshes the ranks every rankInterval until ctx ends.
func (h *hub) runRanks(ctx context.Context) {
	t := time.NewTicker(rankInterval)
	defer t.Stop()
	var r ranker
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.refresh(ctx, h)
		}
	}
}

// rankBudgeter is a backend whose ranks cost enough per player that one refresh asks
// for at most RankBudget players (the Redis backend's cost is Redis CPU, which the
// clicks of every node share; its budget is the node's share of one for the game). The
// others keep their last frame and are asked in the next refreshes, those asked
// longest ago first, new sockets before all: with n players on a node, each is
// refreshed every n/RankBudget seconds.
type rankBudgeter interface{ RankBudget() int }

// ranker holds what one refresh needs, reused by the next.
type ranker struct {
	targets []*client
	players []game.Player
	slot    map[uuid.UUID]int // player id to its index in players
	ranks   []game.Rank
	frames  [][]byte
	tags    map[uuid.UUID]string
	// round counts the refreshes; asked is the round each player was last asked in.
	round uint64
	asked map[uuid.UUID]uint64
}

// budget keeps in r.players the limit players asked longest ago (never asked first),
// and re-indexes r.slot to match: a target whose player is left out has no slot.
func (r *ranker) budget(limit int) {
	if limit <= 0 {
		return
	}
	if r.asked == nil {
		r.asked = make(map[uuid.UUID]uint64)
	}
	if len(r.asked) > 2*len(r.players)+1024 {
		clear(r.asked) // mostly players long gone; the connected start afresh
	}
	r.round++
	if len(r.players) > limit {
		slices.SortStableFunc(r.players, func(a, b game.Player) int {
			return cmp.Compare(r.asked[a.ID()], r.asked[b.ID()])
		})
		r.players = r.players[:limit]
		clear(r.slot)
		for i, p := range r.players {
			r.slot[p.ID()] = i
		}
	}
	for _, p := range r.players {
		r.asked[p.ID()] = r.round
	}
}

func (r *ranker) refresh(ctx context.Context, h *hub) {
	h.mu.Lock()
	r.targets = append(r.targets[:0], h.clients...)
	h.mu.Unlock()
	if len(r.targets) == 0 {
		return
	}
	if r.slot == nil {
		r.slot, r.tags = make(map[uuid.UUID]int), make(map[uuid.UUID]string)
	}
	clear(r.slot)
	r.players = r.players[:0]
	for _, c := range r.targets {
		id := c.p.ID()
		if _, ok := r.slot[id]; !ok {
			r.slot[id] = len(r.players)
			r.players = append(r.players, c.p)
		}
	}
	if b, ok := h.s.game.(rankBudgeter); ok {
		r.budget(b.RankBudget())
	}
	r.ranks = append(r.ranks[:0], make([]game.Rank, len(r.players))...)
	if err := h.s.game.Ranks(ctx, r.players, r.ranks); err != nil {
		h.s.metrics.backendErrors.WithLabelValues("ranks").Inc()
		h.s.logBackend("ranks", err)
		clear(r.targets)
		return
	}
	if len(r.tags) > 8*len(r.players)+1024 {
		clear(r.tags)
	}
	r.frames = r.frames[:0]
	for _, rk := range r.ranks {
		r.frames = append(r.frames, r.encode(h, rk))
	}
	for _, c := range r.targets {
		// A socket that lost frames gets the full board first; its rank follows at the
		// next refresh, whatever it was sent before.
		if c.behind.Load() {
			c.rankSent = nil
			continue
		}
		i, ok := r.slot[c.p.ID()]
		if !ok {
			continue // not asked in this refresh (rankBudgeter)
		}
		f := r.frames[i]
		if bytes.Equal(f, c.rankSent) {
			continue
		}
		c.rankSent = f
		c.sess.Write(f)
	}
	clear(r.targets)
}

func (r *ranker) tag(h *hub, id uuid.UUID) string {
	t, ok := r.tags[id]
	if !ok {
		t = h.s.id.tag(id)
		r.tags[id] = t
	}
	return t
}

func (r *ranker) rows(h *hub, rows []game.RankedRow) []rowJSON {
	out := make([]rowJSON, len(rows))
	for i, x := range rows {
		out[i] = rowJSON{Rank: int(x.Rank), Tag: r.tag(h, x.ID), Handle: x.Handle, Best: x.Best}
	}
	return out
}

func (r *ranker) encode(h *hub, rk game.Rank) []byte {
	return mustJSON(rankFrame{Type: protocol.TypeRank, Rank: rk.Rank, Of: rk.Of, Best: rk.Best,
		Above: r.rows(h, rk.Above), Below: r.rows(h, rk.Below)})
}
