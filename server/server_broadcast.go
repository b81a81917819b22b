package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/protocol"
	"github.com/google/uuid"
	"github.com/olahol/melody"
)

// hub publishes the leaderboard to every socket once per tick. A frame is encoded once
// and the same bytes are queued to every socket without blocking: a socket whose queue
// is full loses the frame, is marked behind, and gets the full board at the next tick.
type hub struct {
	s *Server

	mu      sync.Mutex
	clients []*client   // every open socket; a client's slot is its index
	board   game.Update // last published board
	stats   statsJSON   // last published counters
	full    []byte      // the board frame of board, encoded on first need
	tags    map[uuid.UUID]string
	pulse   *pulse  // only the hub goroutine changes it
	rate    []int64 // the last published rate, for board frames and api/stats

	targets []*client // the tick's copy of clients, reused; only the hub goroutine uses it

	// ticks counts the backend's publications; the public reads are encoded again once
	// it moved (server_public.go).
	ticks atomic.Uint64
}

func newHub(s *Server) *hub {
	stats := newStatsJSON(s.game.Stats())
	return &hub{
		s:     s,
		board: s.game.Board(),
		stats: stats,
		tags:  make(map[uuid.UUID]string),
		pulse: newPulse(time.Now(), stats.TotalClicks),
	}
}

func (h *hub) run(ctx context.Context) {
	ranks := make(chan struct{})
	go func() { defer close(ranks); h.runRanks(ctx) }()
	defer func() { <-ranks }()
	t := time.NewTicker(h.s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.tick(ctx)
		}
	}
}

// tick publishes what changed since the last tick: a delta when the board changed, the
// counters alone when only they did, nothing otherwise. It also sends each socket its
// player's state when that changed by other means than this socket's clicks.
//
// When the game's storage cannot be reached the board stays as it was; the counters
// and the players' own states still go out.
func (h *hub) tick(ctx context.Context) {
	start := time.Now()
	defer func() { h.s.metrics.tickDuration.Observe(time.Since(start).Seconds()) }()
	u, changed, err := h.s.game.Tick(ctx)
	if err != nil {
		h.s.metrics.backendErrors.WithLabelValues("tick").Inc()
		h.s.logBackend("tick", err)
	}
	// Every tick, changed or not: the counters move without the board.
	h.ticks.Add(1)
	stats := newStatsJSON(h.s.game.Stats())
	var rate []int64
	if h.pulse.observe(start, stats.TotalClicks) {
		rate = h.pulse.snapshot()
	}

	// Under the lock: publish, and take the list of sockets. Queuing to thousands of
	// sockets happens after it, so connects never wait behind a tick.
	h.mu.Lock()
	var frame, pulseFrame, full []byte
	switch {
	case changed:
		frame = h.encodeDelta(u, stats)
		h.board, h.full = u, nil
	case stats != h.stats && rate == nil:
		frame = mustJSON(statsFrame{Type: protocol.TypeStats, Counters: stats})
	}
	if rate != nil {
		// Once a second at most: the counters ride along, so a stats frame of its own
		// is not needed on this tick.
		pulseFrame = mustJSON(statsFrame{Type: protocol.TypeStats, Counters: stats, Rate: rate})
		h.rate, h.full = rate, nil
	}
	if h.stats != stats {
		h.stats, h.full = stats, nil
	}
	if len(h.tags) > 4*h.s.game.Config().BoardSize {
		clear(h.tags)
	}
	targets := append(h.targets[:0], h.clients...)
	for _, c := range targets {
		if c.behind.Load() {
			full = h.fullFrame()
			break
		}
	}
	h.mu.Unlock()

	for _, c := range targets {
		// A socket that fell behind after the list was taken gets its full board at the
		// next tick; its flag stays set until then.
		force := full != nil && c.behind.Load()
		switch {
		case force:
			c.behind.Store(false)
			c.sess.Write(full)
		case frame != nil:
			c.sess.Write(frame)
		}
		if pulseFrame != nil && !force {
			c.sess.Write(pulseFrame)
		}
		c.mu.Lock()
		c.sendState(h.s.game.State(c.p), force)
		c.mu.Unlock()
	}
	clear(targets) // drop references to closed sockets until the next tick
	h.targets = targets
}

// lastRate returns the rate of the last completed second's frame, nil before the first.
func (h *hub) lastRate() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rate
}

func (h *hub) tag(id uuid.UUID) string {
	t, ok := h.tags[id]
	if !ok {
		t = h.s.id.tag(id)
		h.tags[id] = t
	}
	return t
}

func (h *hub) rowsJSON(u game.Update, idx []int) []rowJSON {
	if idx == nil {
		rows := make([]rowJSON, len(u.Rows))
		for i, r := range u.Rows {
			rows[i] = rowJSON{Rank: i + 1, Tag: h.tag(r.ID), Handle: r.Handle, Best: r.Best}
		}
		return rows
	}
	rows := make([]rowJSON, len(idx))
	for j, i := range idx {
		r := u.Rows[i]
		rows[j] = rowJSON{Rank: i + 1, Tag: h.tag(r.ID), Handle: r.Handle, Best: r.Best}
	}
	return rows
}

func (h *hub) encodeDelta(u game.Update, stats statsJSON) []byte {
	drop := make([]string, len(u.Dropped))
	for i, id := range u.Dropped {
		drop[i] = h.tag(id)
	}
	changed := u.Changed
	if changed == nil {
		changed = []int{}
	}
	return mustJSON(deltaFrame{
		Type: protocol.TypeBoardDelta, Seq: u.Seq, Size: len(u.Rows),
		Rows: h.rowsJSON(u, changed), Drop: drop, Counters: stats,
	})
}

// fullFrame returns the board frame of the current board. Call with h.mu held.
func (h *hub) fullFrame() []byte {
	if h.full == nil {
		h.full = mustJSON(boardFrame{Type: protocol.TypeBoard, Seq: h.board.Seq, Rows: h.rowsJSON(h.board, nil), Counters: h.stats, Rate: h.rate})
	}
	return h.full
}

// connect registers a new socket and sends it its state and the full board, under the
// hub's lock so that no delta can slip in between.
func (h *hub) connect(sess *melody.Session) {
	c := clientOf(sess)
	if c == nil {
		sess.Close()
		return
	}
	c.sess = sess
	close(c.upgraded)
	h.s.metrics.wsConnects.Inc()
	if _, err := h.s.game.Attach(context.Background(), c.p); err != nil {
		// The socket works without it: only the online and returning counts miss it.
		h.s.metrics.backendErrors.WithLabelValues("attach").Inc()
		h.s.logBackend("attach", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.slot = len(h.clients)
	h.clients = append(h.clients, c)
	if c.p.Removed() { // by a moderator while this socket opened (server_admin.go)
		closeSocket(sess, closeRemoved, adminCloseReason)
		return
	}
	c.mu.Lock()
	c.sendState(h.s.game.State(c.p), true)
	c.mu.Unlock()
	sess.Write(h.fullFrame())
}

func (h *hub) disconnect(sess *melody.Session) {
	c := clientOf(sess)
	if c == nil {
		return
	}
	h.mu.Lock()
	last := h.clients[len(h.clients)-1]
	h.clients[c.slot], last.slot = last, c.slot
	h.clients[len(h.clients)-1] = nil
	h.clients = h.clients[:len(h.clients)-1]
	h.mu.Unlock()
	h.s.metrics.wsDisconnects.Inc()
	h.s.game.Detach(c.p)
}
