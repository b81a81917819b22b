package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clickthebutton/clickthebutton/internal/protocol"
	"github.com/gorilla/websocket"
)

// Frame kinds counted separately.
const (
	kState = iota
	kDelta
	kBoard
	kStats
	kError
	kOther
	nKinds
)

var kindNames = [nKinds]string{protocol.TypeState, protocol.TypeBoardDelta, protocol.TypeBoard, protocol.TypeStats, protocol.TypeError, "other"}

var (
	pState = []byte(`{"type":"` + protocol.TypeState + `"`)
	pDelta = []byte(`{"type":"` + protocol.TypeBoardDelta + `"`)
	pBoard = []byte(`{"type":"` + protocol.TypeBoard + `"`)
	pStats = []byte(`{"type":"` + protocol.TypeStats + `"`)
	pError = []byte(`{"type":"` + protocol.TypeError + `"`)

	clickMsg  = []byte(`{"type":"` + protocol.TypeClick + `"}`)
	resyncMsg = []byte(`{"type":"` + protocol.TypeResync + `"}`)
)

const probeSlots = 1 << 16

// probe is a player that clicks at a known pace, one click in flight at a time, so
// the time each of its bests was produced is known. Every client of the process looks
// for the probe's row in board frames and measures the lag per best.
type probe struct {
	c        *client
	sendAt   [probeSlots]atomic.Int64 // best -> unix ns of the click that made it
	seenBy   [probeSlots]atomic.Int32 // clients that saw this best
	maxLag   [probeSlots]atomic.Int64 // slowest of them, ns
	lastBest atomic.Int64
	inflight atomic.Bool
	// tagPat is `"tag":"<tag>"`, set once connected; the readers may already be
	// handling board frames then, hence atomic.
	tagPat  atomic.Pointer[[]byte]
	skipped atomic.Uint64
}

// The frames it reads are the protocol's own types (internal/protocol): a board frame
// decodes as a delta without size and drop.
type (
	row      = protocol.Row
	boardMsg = protocol.BoardDeltaFrame
)

type client struct {
	w     *worker
	idx   int
	node  int // index into cfg.URLs
	conn  *websocket.Conn
	wmu   sync.Mutex
	tag   string
	probe *probe

	amu       sync.Mutex
	pending   []int64 // send times of unacknowledged clicks
	lastTotal int64
	gotState  chan struct{}
	stateOnce sync.Once

	// Touched only by the reader goroutine.
	seq      uint64
	boards   int
	seen     []int64 // per probe of the process, last best seen
	verify   bool
	board    []row
	boardSeq uint64
	boardOK  bool
	buf      []byte
}

type worker struct {
	cfg     config
	clients []*client
	probes  []*probe

	winStart, winEnd atomic.Int64 // unix ns; zero until GO

	ack, lag hist
	frames   [nKinds]atomic.Uint64
	bytes    [nKinds]atomic.Uint64

	clicksSent, clicksAcked, skipped                   atomic.Uint64
	gaps, resyncs, errorFrames, throttled, missed      atomic.Uint64
	readErrors, writeErrors, connectErrors, unexpClose atomic.Uint64
	stopping                                           atomic.Bool
	readers                                            sync.WaitGroup

	// With several nodes (nil with one): per node, what its clients did, and the
	// convergence check against its board.
	nodes      []*nodeStats
	nodeVerify []struct{ checked, diverged, errors int }
}

func (w *worker) inWindow(t int64) bool {
	s := w.winStart.Load()
	return s != 0 && t >= s && t < w.winEnd.Load()
}

// connect opens every player: a POST for the cookie, then the WebSocket upgrade from one
// of the source addresses. It returns once every socket got its first state frame.
func (w *worker) connect(ctx context.Context) {
	cfg := w.cfg
	httpc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}}
	nProbes := cfg.Probes
	if nProbes > cfg.Clients {
		nProbes = cfg.Clients
	}
	if n := len(cfg.URLs); n > 1 {
		w.nodes = make([]*nodeStats, n)
		for j := range w.nodes {
			w.nodes[j] = &nodeStats{}
		}
		w.nodeVerify = make([]struct{ checked, diverged, errors int }, n)
	}
	w.clients = make([]*client, cfg.Clients)
	for i := range w.clients {
		c := &client{w: w, idx: i, node: (i + cfg.URLOffset) % len(cfg.URLs), gotState: make(chan struct{}), buf: make([]byte, 0, 1024)}
		if i < nProbes {
			c.probe = &probe{c: c}
			w.probes = append(w.probes, c.probe)
		}
		// Every n-th client of each node verifies: counted over all clients, a
		// -verify-every that is a multiple of the node count would pick one node only.
		if k := i / len(cfg.URLs); cfg.VerifyEvery > 0 && k%cfg.VerifyEvery == cfg.VerifyEvery-1 {
			c.verify = true
		}
		w.clients[i] = c
	}
	for _, c := range w.clients {
		c.seen = make([]int64, len(w.probes))
	}

	idx := make(chan int)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				var err error
				for attempt := 0; attempt < 3; attempt++ {
					if err = w.dial(ctx, httpc, w.clients[i]); err == nil {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				if err != nil {
					if w.connectErrors.Add(1) <= 5 {
						log.Printf("%s: client %d: %v", cfg.Name, i, err)
					}
					w.clients[i].stateOnce.Do(func() { close(w.clients[i].gotState) })
				}
			}
		}()
	}
	interval := time.Duration(0)
	if cfg.ConnectRate > 0 {
		interval = time.Second / time.Duration(cfg.ConnectRate)
	}
	next := time.Now()
	for i := range w.clients {
		if ctx.Err() != nil {
			break
		}
		if interval > 0 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
		idx <- i
	}
	close(idx)
	wg.Wait()
	for _, c := range w.clients {
		select {
		case <-c.gotState:
		case <-time.After(10 * time.Second):
			w.connectErrors.Add(1)
		}
	}
	for _, p := range w.probes {
		if p.c.conn == nil {
			continue
		}
		pat := []byte(`"tag":"` + p.c.tag + `"`)
		p.tagPat.Store(&pat)
	}
}

func (w *worker) dial(ctx context.Context, httpc *http.Client, c *client) error {
	cfg := w.cfg
	handle := fmt.Sprintf("%s-%d", cfg.Name, c.idx)
	if c.probe != nil {
		handle = fmt.Sprintf("probe-%s-%d", cfg.Name, c.idx)
	}
	body, _ := json.Marshal(map[string]string{"handle": handle})
	// The cookie comes from the node the socket goes to; in Redis mode any node's
	// cookie is valid on every other, but each node's share of joins is load too.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URLs[c.node]+"/api/session", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return fmt.Errorf("POST /api/session: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /api/session: %s", resp.Status)
	}
	var cookie string
	for _, ck := range resp.Cookies() {
		if ck.Name == "ctb_session" {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if cookie == "" {
		return errors.New("POST /api/session: no ctb_session cookie")
	}
	src := cfg.Src[c.idx%len(cfg.Src)]
	nd := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	d := websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   2048,
		WriteBufferSize:  256,
	}
	h := http.Header{"Cookie": {cookie}}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	conn, resp2, err := d.DialContext(ctx, cfg.wsURLs[c.node], h)
	if err != nil {
		if resp2 != nil {
			return fmt.Errorf("GET /ws: %s: %w", resp2.Status, err)
		}
		return fmt.Errorf("GET /ws: %w", err)
	}
	c.conn = conn
	w.readers.Add(1)
	go c.read()
	return nil
}

func (c *client) write(msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, msg)
}

// click sends one click and queues its send time for the acknowledgement.
func (c *client) click() {
	now := time.Now().UnixNano()
	c.amu.Lock()
	c.pending = append(c.pending, now)
	c.amu.Unlock()
	if err := c.write(clickMsg); err != nil {
		c.w.writeErrors.Add(1)
		return
	}
	if c.w.inWindow(now) {
		c.w.clicksSent.Add(1)
		if c.w.nodes != nil {
			c.w.nodes[c.node].clicksSent.Add(1)
		}
	}
}

func (c *client) read() {
	w := c.w
	defer w.readers.Done()
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			if !w.stopping.Load() {
				w.readErrors.Add(1)
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					w.unexpClose.Add(1)
				}
			}
			c.stateOnce.Do(func() { close(c.gotState) })
			return
		}
		c.buf = c.buf[:0]
		for {
			if len(c.buf) == cap(c.buf) {
				c.buf = append(c.buf, 0)[:len(c.buf)]
			}
			n, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
			c.buf = c.buf[:len(c.buf)+n]
			if err != nil {
				break
			}
		}
		c.handle(c.buf, time.Now().UnixNano())
	}
}

// kindOf tells a frame's type by its first bytes, which the server always writes the
// same way: "type" first.
func kindOf(msg []byte) int {
	switch {
	case bytes.HasPrefix(msg, pState):
		return kState
	case bytes.HasPrefix(msg, pDelta):
		return kDelta
	case bytes.HasPrefix(msg, pBoard):
		return kBoard
	case bytes.HasPrefix(msg, pStats):
		return kStats
	case bytes.HasPrefix(msg, pError):
		return kError
	}
	return kOther
}

func (c *client) handle(msg []byte, now int64) {
	w := c.w
	kind := kindOf(msg)
	if w.inWindow(now) {
		w.frames[kind].Add(1)
		w.bytes[kind].Add(uint64(len(msg)))
	}
	switch kind {
	case kState:
		c.onState(msg, now)
	case kDelta, kBoard:
		seq, _ := intField(msg, `"seq":`)
		if c.seq != 0 && uint64(seq) > c.seq+1 && w.inWindow(now) {
			w.missed.Add(uint64(seq) - c.seq - 1)
		}
		if kind == kBoard {
			c.boards++
			if c.boards > 1 {
				w.resyncs.Add(1)
			}
		} else if c.seq != 0 && uint64(seq) != c.seq+1 {
			w.gaps.Add(1)
			if w.cfg.Resync {
				go c.write(resyncMsg)
			}
		}
		c.seq = uint64(seq)
		c.onRows(msg, now)
		if c.verify {
			c.apply(msg, kind == kBoard)
		}
	case kError:
		w.errorFrames.Add(1)
	}
}

func (c *client) onState(msg []byte, now int64) {
	w := c.w
	total, _ := intField(msg, `"total":`)
	best, _ := intField(msg, `"best":`)
	if bytes.Contains(msg, []byte(`"throttled":true`)) {
		w.throttled.Add(1)
	}
	first := false
	c.stateOnce.Do(func() {
		first = true
		c.tag, _ = strField(msg, `"tag":"`)
		c.amu.Lock()
		c.lastTotal = total
		c.amu.Unlock()
		if c.probe != nil {
			c.probe.lastBest.Store(best)
		}
		close(c.gotState)
	})
	if first {
		return
	}
	c.amu.Lock()
	if d := total - c.lastTotal; d > 0 {
		c.lastTotal = total
		for ; d > 0 && len(c.pending) > 0; d-- {
			t := c.pending[0]
			c.pending = c.pending[1:]
			if w.inWindow(t) {
				w.ack.add(time.Duration(now - t))
				w.clicksAcked.Add(1)
				if w.nodes != nil {
					w.nodes[c.node].ack.add(time.Duration(now - t))
					w.nodes[c.node].clicksAcked.Add(1)
				}
			}
		}
	}
	c.amu.Unlock()
	if p := c.probe; p != nil && best > p.lastBest.Load() {
		p.lastBest.Store(best)
		p.inflight.Store(false)
	}
}

// onRows finds the probes' rows in a board or delta frame and records the lag of every
// probe click this client had not seen yet.
func (c *client) onRows(msg []byte, now int64) {
	w := c.w
	for i, p := range w.probes {
		pat := p.tagPat.Load()
		if pat == nil {
			continue
		}
		j := bytes.Index(msg, *pat)
		if j < 0 {
			continue
		}
		best, ok := intField(msg[j:], `"best":`)
		if !ok || best <= c.seen[i] {
			continue
		}
		for b := c.seen[i] + 1; b <= best; b++ {
			t := p.sendAt[b%probeSlots].Load()
			if t == 0 || !w.inWindow(t) {
				continue
			}
			lag := now - t
			w.lag.add(time.Duration(lag))
			if w.nodes != nil {
				w.nodes[c.node].lag.add(time.Duration(lag))
			}
			p.seenBy[b%probeSlots].Add(1)
			for {
				m := p.maxLag[b%probeSlots].Load()
				if lag <= m || p.maxLag[b%probeSlots].CompareAndSwap(m, lag) {
					break
				}
			}
		}
		c.seen[i] = best
	}
}

// apply keeps a verifying client's copy of the board, as docs/protocol.md says.
func (c *client) apply(msg []byte, full bool) {
	var m boardMsg
	if err := json.Unmarshal(msg, &m); err != nil {
		return
	}
	if full {
		c.board, c.boardSeq, c.boardOK = m.Rows, m.Seq, true
		return
	}
	if !c.boardOK || m.Seq != c.boardSeq+1 {
		c.boardOK = false
		return
	}
	gone := map[string]bool{}
	for _, r := range m.Rows {
		gone[r.Tag] = true
	}
	for _, t := range m.Drop {
		gone[t] = true
	}
	nb := make([]row, 0, len(c.board)+len(m.Rows))
	for _, r := range c.board {
		if !gone[r.Tag] {
			nb = append(nb, r)
		}
	}
	for _, r := range m.Rows { // ascending rank
		at := r.Rank - 1
		if at > len(nb) {
			at = len(nb)
		}
		nb = append(nb, row{})
		copy(nb[at+1:], nb[at:])
		nb[at] = r
	}
	if len(nb) > m.Size {
		nb = nb[:m.Size]
	}
	c.board, c.boardSeq = nb, m.Seq
}

// intField parses the integer after the first occurrence of key.
func intField(b []byte, key string) (int64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	i += len(key)
	var v int64
	j := i
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		v = v*10 + int64(b[j]-'0')
	}
	return v, j > i
}

func strField(b []byte, key string) (string, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "", false
	}
	i += len(key)
	j := bytes.IndexByte(b[i:], '"')
	if j < 0 {
		return "", false
	}
	return string(b[i : i+j]), true
}

// clickers drive the players: the total rate is split evenly over the players, in
// round-robin, so each clicks at rate/players per second. A loop that falls more than
// a second behind skips clicks and counts them.
func (w *worker) clickers(ctx context.Context, until time.Time) {
	var players []*client
	for _, c := range w.clients {
		if c.probe == nil && c.conn != nil {
			players = append(players, c)
		}
	}
	var wg sync.WaitGroup
	if w.cfg.Rate > 0 && len(players) > 0 {
		const loops = 4
		for g := 0; g < loops; g++ {
			var mine []*client
			for i := g; i < len(players); i += loops {
				mine = append(mine, players[i])
			}
			if len(mine) == 0 {
				continue
			}
			rate := w.cfg.Rate * float64(len(mine)) / float64(len(players))
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.clickLoop(ctx, until, mine, rate)
			}()
		}
	}
	for _, p := range w.probes {
		if p.c.conn == nil || w.cfg.ProbeRate <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.probeLoop(ctx, until, p)
		}()
	}
	wg.Wait()
}

func (w *worker) clickLoop(ctx context.Context, until time.Time, mine []*client, rate float64) {
	const step = 5 * time.Millisecond
	t := time.NewTicker(step)
	defer t.Stop()
	start := time.Now()
	var sent float64
	next := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if !now.Before(until) {
				return
			}
			due := rate * now.Sub(start).Seconds()
			if due-sent > rate { // more than a second behind
				w.skipped.Add(uint64(due - sent - rate))
				sent = due - rate
			}
			for sent+1 <= due {
				mine[next].click()
				next = (next + 1) % len(mine)
				sent++
			}
		}
	}
}

// awaitAcks waits until no client has a click without its acknowledgement, or max
// has passed (a click the throttle refused is never acknowledged by a higher total).
func (w *worker) awaitAcks(ctx context.Context, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		waiting := false
		for _, c := range w.clients {
			c.amu.Lock()
			waiting = len(c.pending) > 0
			c.amu.Unlock()
			if waiting {
				break
			}
		}
		if !waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *worker) probeLoop(ctx context.Context, until time.Time, p *probe) {
	t := time.NewTicker(time.Duration(float64(time.Second) / w.cfg.ProbeRate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if !now.Before(until) {
				return
			}
			if p.inflight.Load() {
				p.skipped.Add(1)
				continue
			}
			p.inflight.Store(true)
			next := p.lastBest.Load() + 1
			p.sendAt[next%probeSlots].Store(time.Now().UnixNano())
			p.c.click()
		}
	}
}

// verify compares every verifying client's board with the server's; with several
// nodes, with every node's (verifyNodes).
func (w *worker) verify(ctx context.Context) (checked, diverged int) {
	if len(w.cfg.URLs) > 1 {
		return w.verifyNodes(ctx)
	}
	want, err := leaderboard(ctx, w.cfg.URLs[0])
	if err != nil {
		log.Printf("%s: verify: %v", w.cfg.Name, err)
		return 0, 0
	}
	for _, c := range w.clients {
		if !c.verify || c.conn == nil {
			continue
		}
		checked++
		if boardKey(c.board) != want {
			diverged++
		}
	}
	return checked, diverged
}
