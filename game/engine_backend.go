package game

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// The Engine as a Backend. Nothing here can fail remotely: the contexts are unused and
// the only errors are a bad handle and an unknown player. The rules themselves live in
// the unexported methods, which take the time explicitly so their tests can drive it.

var _ Backend = (*Engine)(nil)

// mem returns the engine's own player behind p. A Player from another backend is a
// programming error.
func mem(p Player) *memPlayer { return p.(*memPlayer) }

// Join implements Backend.
func (e *Engine) Join(_ context.Context, handle string) (Player, error) {
	p, err := e.join(handle)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Get implements Backend.
func (e *Engine) Get(_ context.Context, id uuid.UUID) (Player, error) {
	if p := e.get(id); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNoPlayer, id)
}

// Restore implements Backend. A banned identity gets a *BannedError.
func (e *Engine) Restore(_ context.Context, id uuid.UUID, handle string) (Player, error) {
	if err := e.banOf(id); err != nil {
		return nil, err
	}
	p, err := e.restore(id, handle)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Rename implements Backend: ErrHandleLocked when a moderator set the handle.
func (e *Engine) Rename(_ context.Context, p Player, handle string) (string, error) {
	if mem(p).locked.Load() {
		return "", ErrHandleLocked
	}
	return e.rename(mem(p), handle)
}

// Click implements Backend. It takes no lock and allocates nothing. A click by a
// removed player counts nothing and returns ErrNoPlayer.
func (e *Engine) Click(_ context.Context, p Player) (ClickResult, error) {
	mp := mem(p)
	if mp.removed.Load() {
		return ClickResult{}, ErrNoPlayer
	}
	if mp.banned.Load() {
		if err := e.banOf(mp.id); err != nil {
			return ClickResult{}, err
		}
	}
	return e.click(mp, e.now()), nil
}

// State implements Backend.
func (e *Engine) State(p Player) State { return e.state(mem(p), e.now().UnixNano()) }

// Attach implements Backend.
func (e *Engine) Attach(_ context.Context, p Player) (bool, error) {
	return e.attach(mem(p), e.now()), nil
}

// Detach implements Backend.
func (e *Engine) Detach(p Player) { e.detach(mem(p), e.now()) }

// Tick implements Backend. Its cost follows the number of players that changed since
// the last tick, not the number of players.
func (e *Engine) Tick(context.Context) (Update, bool, error) {
	u, changed := e.tick()
	return u, changed, nil
}

// Ranks implements Backend. It first files anew the players whose best changed since
// the last call, then costs a few binary searches per player.
func (e *Engine) Ranks(_ context.Context, ps []Player, out []Rank) error {
	if len(out) != len(ps) {
		return fmt.Errorf("ranks: %d players but room for %d", len(ps), len(out))
	}
	e.rankMu.Lock()
	defer e.rankMu.Unlock()
	if e.ranksStale {
		e.rebuildRanks()
		e.ranksStale = false
	}
	e.fileRanked()
	for i, gp := range ps {
		e.rankOf(mem(gp), &out[i])
	}
	return nil
}

// Find implements Backend.
func (e *Engine) Find(_ context.Context, match func(uuid.UUID, string) bool, offset, limit int) ([]PlayerInfo, int, error) {
	var m func(*memPlayer) bool
	if match != nil {
		m = func(p *memPlayer) bool { return match(p.id, p.Handle()) }
	}
	page, n := e.find(m, offset, limit)
	now := e.now()
	out := make([]PlayerInfo, len(page))
	for i, p := range page {
		out[i] = e.info(p, now)
	}
	return out, n, nil
}

// Info implements Backend.
func (e *Engine) Info(_ context.Context, p Player) (PlayerInfo, error) {
	return e.info(mem(p), e.now()), nil
}

// Reset implements Backend.
func (e *Engine) Reset(_ context.Context, p Player) error {
	e.reset(mem(p))
	return nil
}

// Remove implements Backend.
func (e *Engine) Remove(_ context.Context, id uuid.UUID) (PlayerInfo, error) {
	p := e.remove(id)
	if p == nil {
		return PlayerInfo{}, fmt.Errorf("%w: %s", ErrNoPlayer, id)
	}
	return e.info(p, e.now()), nil
}

// Watch implements Backend. One process is the whole game, so nothing ever happens
// elsewhere and fn is never called.
func (e *Engine) Watch(func(Event)) {}

// Ping implements Backend: memory always answers.
func (e *Engine) Ping(context.Context) error { return nil }

// Version implements Source: it changes whenever anything a snapshot stores changed.
func (e *Engine) Version(context.Context) (int64, error) { return e.version(), nil }

func (e *Engine) recordParts(context.Context) (int, func(int, func(Record) error) error) {
	return e.partsAt(e.now())
}

// Records implements Source.
func (e *Engine) Records(_ context.Context, fn func(Record) error) error {
	return e.records(e.now(), fn)
}
