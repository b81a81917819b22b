package server

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
)

// publicRead is the encoded answer of one public GET (/api/leaderboard, /api/stats),
// made at most once per tick and shared by every request until the next one. What it
// shows changes only when the hub publishes, so a board polled by thousands costs one
// encoding (and, for the board, one round of tag HMACs) per tick instead of one per
// request; its ETag lets a poller that has it get a 304 with no body at all.
type publicRead struct {
	tick   *atomic.Uint64 // the hub's tick count, moved after each publication
	encode func() any     // the answer's value, encoded as JSON

	mu  sync.Mutex // one encoding at a time; the others wait for it rather than repeat it
	cur atomic.Pointer[publicBody]
}

type publicBody struct {
	tick uint64
	*encoded
}

func newPublicRead(tick *atomic.Uint64, encode func() any) *publicRead {
	return &publicRead{tick: tick, encode: encode}
}

// get returns the answer as of the latest tick, encoding it if this is the first
// request since that tick.
func (p *publicRead) get() (*encoded, error) {
	t := p.tick.Load()
	if b := p.cur.Load(); b != nil && b.tick >= t {
		return b.encoded, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.cur.Load(); b != nil && b.tick >= t {
		return b.encoded, nil
	}
	// Read the tick again: what is encoded now is at least as new as that tick.
	t = p.tick.Load()
	body, err := json.Marshal(p.encode())
	if err != nil {
		return nil, fmt.Errorf("encode public answer: %w", err)
	}
	// As echo's c.JSON writes it.
	body = append(body, '\n')
	e := newEncoded("application/json", cacheRevalidate, body, nil, gzipIfSmaller(body))
	e.varyOnCoding()
	p.cur.Store(&publicBody{tick: t, encoded: e})
	return e, nil
}
