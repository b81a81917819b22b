package redisgame

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// A player's life on a node: joining, clicking, sockets. Each is one script run.

// decodeState reads a state reply: the status, the player's fields, the script's
// clock (µs) and, for reads, the ban on the identity. A reply of the status alone has
// no fields; a banned identity's reply is turned into its *game.BannedError.
func decodeState(res rueidis.RedisResult) (status int64, c *cached, clock int64, err error) {
	msg, err := res.ToArray()
	if err != nil {
		return 0, nil, 0, err
	}
	if len(msg) == 0 {
		return 0, nil, 0, fmt.Errorf("empty reply")
	}
	if status, err = msg[0].AsInt64(); err != nil {
		return 0, nil, 0, err
	}
	if status == statusBanned && len(msg) == 2 {
		s, err := msg[1].ToString()
		if err != nil {
			return 0, nil, 0, err
		}
		return status, nil, 0, parseBan(s)
	}
	if len(msg) == 1 {
		return status, nil, 0, nil
	}
	if len(msg) != 15 {
		return 0, nil, 0, fmt.Errorf("state reply of %d values, want 15", len(msg))
	}
	var n [10]int64
	for i := range n {
		if n[i], err = msg[2+i].AsInt64(); err != nil {
			return 0, nil, 0, err
		}
	}
	handle, err := msg[1].ToString()
	if err != nil {
		return 0, nil, 0, err
	}
	c = &cached{
		view: game.View{
			Handle: handle, Score: n[0], Best: n[1], Total: n[3],
			LastClick: n[4] * 1000, Violation: n[5] * 1000, NextAllowed: n[6] * 1000,
		},
		bestAt: n[2] * 1000,
		q:      n[7],
		nodes:  n[8],
	}
	if ban, _ := msg[12].ToString(); ban != "" {
		return status, c, n[9], parseBan(ban)
	}
	return status, c, n[9], nil
}

// boardChange reads what a click did to the player's board entry (boardKept,
// boardHid or boardMoved) from its reply.
func boardChange(res rueidis.RedisResult) int64 {
	msg, err := res.ToArray()
	if err != nil || len(msg) != 15 {
		return boardKept
	}
	n, err := msg[14].AsInt64()
	if err != nil {
		return boardKept
	}
	return n
}

// parseBan reads a ban as the bans hash keeps it: "at reason".
func parseBan(s string) error {
	at, reason, _ := strings.Cut(s, " ")
	us, _ := strconv.ParseInt(at, 10, 64)
	return &game.BannedError{Ban: game.Ban{Reason: reason, At: micros(us)}}
}

// bind returns a handle on id holding c, sharing the entry of the player's sockets
// on this node when there are any.
func (b *Backend) bind(id uuid.UUID, c *cached) *player {
	k := b.parts[partitionOf(id)]
	p := &player{id: id, idText: id.String(), keys: k, key: k.player(id), flipped: flippedID(id)}
	p.clickKeys = []string{p.key, k.part, k.board, k.bans, k.suspects}
	e := b.reg.lookup(id)
	if e == nil {
		e = &entry{}
	}
	e.update(c)
	p.entry.Store(e)
	return p
}

func redisPlayer(p game.Player) *player { return p.(*player) }

// Join implements game.Backend.
func (b *Backend) Join(ctx context.Context, raw string) (game.Player, error) {
	h, err := game.NormalizeHandle(raw)
	if err != nil {
		return nil, err
	}
	for {
		id := uuid.New()
		p, status, err := b.join(ctx, id, h, "new")
		if err != nil || status != statusGone {
			return p, err
		}
		// The id is taken (1 in 2^61 a time): draw another.
	}
}

// Restore implements game.Backend.
func (b *Backend) Restore(ctx context.Context, id uuid.UUID, raw string) (game.Player, error) {
	h, err := game.NormalizeHandle(raw)
	if err != nil {
		return nil, err
	}
	// Nearly every call finds the player: a read, which the client may send again on
	// a connection that broke (a Redis that just came back), unlike a write.
	if c, err := b.read(ctx, id); err == nil {
		return b.bind(id, c), nil
	} else if !errors.Is(err, game.ErrNoPlayer) {
		return nil, err // a ban, or Redis is unreachable
	}
	p, _, err := b.join(ctx, id, h, "get")
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (b *Backend) join(ctx context.Context, id uuid.UUID, handle, mode string) (*player, int64, error) {
	k := b.parts[partitionOf(id)]
	ctx, cancel := b.op(ctx)
	defer cancel()
	res := b.s.join.Exec(ctx, b.c, []string{k.player(id), k.part, k.ids, k.bans}, []string{id.String(), handle, mode, b.nowArg()})
	status, c, clock, err := decodeState(res)
	if errors.Is(err, game.ErrBanned) {
		return nil, status, err
	}
	if err != nil {
		return nil, 0, b.unavailable("join", err)
	}
	if c == nil {
		return nil, status, nil
	}
	b.observeClock(clock)
	return b.bind(id, c), status, nil
}

// Get implements game.Backend. A banned player is found too: moderators see it.
func (b *Backend) Get(ctx context.Context, id uuid.UUID) (game.Player, error) {
	c, err := b.read(ctx, id)
	if err != nil && !errors.Is(err, game.ErrBanned) {
		return nil, err
	}
	return b.bind(id, c), nil
}

// read returns the stored fields of id, or an error matching game.ErrNoPlayer. For a
// banned identity it returns the fields and the *game.BannedError.
func (b *Backend) read(ctx context.Context, id uuid.UUID) (*cached, error) {
	k := b.parts[partitionOf(id)]
	ctx, cancel := b.op(ctx)
	defer cancel()
	status, c, clock, err := decodeState(b.s.get.Exec(ctx, b.c, []string{k.player(id), k.bans}, []string{id.String()}))
	if err != nil && !errors.Is(err, game.ErrBanned) {
		return nil, b.unavailable("get", err)
	}
	if status == statusGone {
		return nil, fmt.Errorf("%w: %s", game.ErrNoPlayer, id)
	}
	b.observeClock(clock)
	return c, err
}

// Rename implements game.Backend.
func (b *Backend) Rename(ctx context.Context, gp game.Player, raw string) (string, error) {
	h, err := game.NormalizeHandle(raw)
	if err != nil {
		return "", err
	}
	return b.rename(ctx, redisPlayer(gp), h, "player")
}

// rename runs the rename script in mode "player" (refused for a locked handle) or
// "lock" (a moderator's).
func (b *Backend) rename(ctx context.Context, p *player, h, mode string) (string, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	res := b.s.rename.Exec(ctx, b.c, []string{p.key, p.keys.part, p.keys.board}, []string{h, p.flipped, b.arg.board, mode})
	if err := b.applied(p, "rename", res); err != nil {
		return "", err
	}
	b.syncRank(ctx, p.id) // the member holds the handle
	b.publish(ctx, kindChanged, p.id)
	return h, nil
}

// applied keeps the fields of a state reply for p, and turns a reply for a player
// who is gone into game.ErrNoPlayer.
func (b *Backend) applied(p *player, op string, res rueidis.RedisResult) error {
	status, c, _, err := decodeState(res)
	if err != nil {
		return b.unavailable(op, err)
	}
	switch status {
	case statusGone:
		p.entry.Load().removed.Store(true)
		return fmt.Errorf("%w: %s", game.ErrNoPlayer, p.id)
	case statusLocked:
		return game.ErrHandleLocked
	}
	if c != nil {
		p.entry.Load().update(c)
	}
	return nil
}

// Click implements game.Backend: one script run, and the result is what Redis stored.
func (b *Backend) Click(ctx context.Context, gp game.Player) (game.ClickResult, error) {
	p := redisPlayer(gp)
	e := p.entry.Load()
	if e.removed.Load() {
		return game.ClickResult{}, game.ErrNoPlayer
	}
	ctx, cancel := b.op(ctx)
	defer cancel()
	a := &b.arg
	res := b.s.click.Exec(ctx, b.c, p.clickKeys,
		[]string{a.limit, a.window, a.penalty, a.idle, a.board, p.flipped, p.idText,
			a.botLimit, a.botWindow, a.regularity, a.regularRate, a.action, b.nowArg()})
	status, c, clock, err := decodeState(res)
	if errors.Is(err, game.ErrBanned) {
		return game.ClickResult{}, err
	}
	if err != nil {
		return game.ClickResult{}, b.unavailable("click", err)
	}
	if status == statusGone {
		e.removed.Store(true)
		return game.ClickResult{}, fmt.Errorf("%w: %s", game.ErrNoPlayer, p.id)
	}
	b.observeClock(clock)
	e = p.entry.Load()
	e.update(c)
	// A new best or a hide changes the player's entry in the game-wide ranks. The
	// reply says which and holds all the entry is made of, so the sync needs no read.
	switch boardChange(res) {
	case boardMoved:
		b.rankDirty.add(rankEntry{id: p.id, q: c.q, best: strconv.FormatInt(c.view.Best, 10),
			member: boardMember(c.bestAt/1000, p.flipped, c.view.Handle), click: true})
	case boardHid:
		b.rankDirty.add(rankEntry{id: p.id, q: c.q, best: "0", click: true})
	}
	if c.nodes > 1 {
		b.noteChanged(p.id) // its sockets on other nodes should see this
	}
	return game.ClickResult{State: b.cfg.StateOf(c.view, clock*1000), Counted: status == statusOK}, nil
}

// State implements game.Backend, from this node's copy.
func (b *Backend) State(gp game.Player) game.State {
	return b.cfg.StateOf(redisPlayer(gp).view().view, b.now())
}

// Attach implements game.Backend. Only a player's first socket on this node asks Redis.
func (b *Backend) Attach(ctx context.Context, gp game.Player) (bool, error) {
	p := redisPlayer(gp)
	first := b.reg.attach(p)
	b.notePeak()
	if !first {
		return false, nil
	}
	ctx, cancel := b.op(ctx)
	defer cancel()
	res := b.s.attach.Exec(ctx, b.c, []string{p.key, p.keys.part}, []string{b.node, b.arg.returnAfter, b.nowArg()})
	status, c, clock, err := decodeState(res)
	if err != nil {
		return false, b.unavailable("attach", err)
	}
	if status == statusGone {
		p.entry.Load().removed.Store(true)
		return false, nil
	}
	b.observeClock(clock)
	p.entry.Load().update(c)
	return status == 2, nil
}

// Detach implements game.Backend. Only a player's last socket on this node tells Redis.
func (b *Backend) Detach(gp game.Player) {
	p := redisPlayer(gp)
	if !b.reg.detach(p) {
		return
	}
	ctx, cancel := b.op(context.Background())
	defer cancel()
	if err := b.s.detach.Exec(ctx, b.c, []string{p.key}, []string{b.node, b.nowArg()}).Error(); err != nil {
		b.log.Debug("redis: detach failed; the player's last-seen time is not updated", "err", err)
	}
}
