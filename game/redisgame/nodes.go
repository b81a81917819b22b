package redisgame

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// What the nodes of one game tell each other: who is online (the heartbeat), and the
// changes to players that other nodes' sockets must see (events on a channel).

// onlineCount is the game's online count as this node knows it: the sum the latest
// heartbeat returned, corrected by how this node's own count moved since it reported,
// so that a player joining here shows at once.
type onlineCount struct {
	sum      atomic.Int64 // the game's sum at the last heartbeat
	reported atomic.Int64 // this node's count in that sum
	peak     atomic.Int64 // the game's peak at the last heartbeat, or higher as seen here
}

func (b *Backend) onlineNow() int64 {
	n := b.online.sum.Load() - b.online.reported.Load() + b.reg.online.Load()
	return max(n, 0)
}

// notePeak raises the peak to the online count now, which the next heartbeat may
// not have reported yet.
func (b *Backend) notePeak() {
	n := b.onlineNow()
	for {
		p := b.online.peak.Load()
		if n <= p || b.online.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (b *Backend) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(b.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.beat(ctx); err != nil && ctx.Err() == nil {
				b.log.Debug("redis: heartbeat failed", "err", err)
			}
		}
	}
}

// beat reports this node's online count and reads the game's.
func (b *Backend) beat(ctx context.Context) error {
	ctx, cancel := b.op(ctx)
	defer cancel()
	mine := b.reg.online.Load()
	ttl := strconv.FormatInt((3 * b.opts.Heartbeat).Milliseconds(), 10)
	res, err := b.s.heartbeat.Exec(ctx, b.c, []string{keyNodes, keyOnline, keyPeak},
		[]string{b.node, strconv.FormatInt(mine, 10), ttl}).ToArray()
	if err != nil {
		return b.unavailable("heartbeat", err)
	}
	sum, err1 := res[0].AsInt64()
	peak, err2 := res[1].AsInt64()
	if err1 != nil || err2 != nil {
		return b.unavailable("heartbeat", err1)
	}
	b.online.sum.Store(sum)
	b.online.reported.Store(mine)
	for {
		p := b.online.peak.Load()
		if peak <= p || b.online.peak.CompareAndSwap(p, peak) {
			break
		}
	}
	b.notePeak()
	return nil
}

// Events on the channel are "<node> <kind> <id>[,<id>...]".
const (
	kindRemoved = "rm" // a moderator removed the players: close their sockets
	kindChanged = "ch" // the players changed: read them again
	kindBanned  = "bn" // "<node> bn <id> <reason>": a moderator banned the player
)

// publishBan tells the other nodes to close a banned player's sockets, saying why.
func (b *Backend) publishBan(ctx context.Context, id uuid.UUID, reason string) {
	msg := b.node + " " + kindBanned + " " + id.String() + " " + reason
	if err := b.c.Do(ctx, b.c.B().Publish().Channel(chanEvents).Message(msg).Build()).Error(); err != nil {
		b.log.Debug("redis: publish failed; the banned player's sockets elsewhere close at their next click", "err", err)
	}
}

// publish tells the other nodes that the players with ids changed.
func (b *Backend) publish(ctx context.Context, kind string, ids ...uuid.UUID) {
	if len(ids) == 0 {
		return
	}
	var sb strings.Builder
	sb.WriteString(b.node)
	sb.WriteByte(' ')
	sb.WriteString(kind)
	sb.WriteByte(' ')
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(id.String())
	}
	if err := b.c.Do(ctx, b.c.B().Publish().Channel(chanEvents).Message(sb.String()).Build()).Error(); err != nil {
		b.log.Debug("redis: publish failed; other nodes catch up when they resubscribe", "err", err)
	}
}

// noteChanged queues id to be published at the next tick: its sockets on other nodes
// should see what a click here did.
func (b *Backend) noteChanged(id uuid.UUID) {
	b.changedMu.Lock()
	b.changed[id] = struct{}{}
	b.changedMu.Unlock()
}

// publishChanged publishes what noteChanged queued, in one message.
func (b *Backend) publishChanged(ctx context.Context) {
	b.changedMu.Lock()
	if len(b.changed) == 0 {
		b.changedMu.Unlock()
		return
	}
	ids := make([]uuid.UUID, 0, len(b.changed))
	for id := range b.changed {
		ids = append(ids, id)
	}
	clear(b.changed)
	b.changedMu.Unlock()
	b.publish(ctx, kindChanged, ids...)
}

// subscribe listens to the other nodes until ctx ends. The client resubscribes by
// itself after a lost connection; every subscription (the first and each one after an
// outage) reads all this node's players again, since events may have been missed.
func (b *Backend) subscribe(ctx context.Context) {
	hooked := rueidis.WithOnSubscriptionHook(ctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "subscribe" {
			b.queueRefresh(b.reg.ids())
		}
	})
	for ctx.Err() == nil {
		err := b.c.Receive(hooked, b.c.B().Subscribe().Channel(chanEvents).Build(), b.onMessage)
		if ctx.Err() != nil {
			return
		}
		b.log.Debug("redis: subscription ended; subscribing again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (b *Backend) onMessage(msg rueidis.PubSubMessage) {
	node, rest, _ := strings.Cut(msg.Message, " ")
	kind, list, _ := strings.Cut(rest, " ")
	if node == b.node {
		return
	}
	if kind == kindBanned {
		ids, reason, _ := strings.Cut(list, " ")
		if id, err := uuid.Parse(ids); err == nil && b.reg.lookup(id) != nil {
			go b.emit(game.Event{Kind: game.PlayerBanned, ID: id, Reason: reason})
		}
		return
	}
	var ids []uuid.UUID
	for _, s := range strings.Split(list, ",") {
		if id, err := uuid.Parse(s); err == nil && b.reg.lookup(id) != nil {
			ids = append(ids, id)
		}
	}
	switch kind {
	case kindRemoved:
		for _, id := range ids {
			if e := b.reg.lookup(id); e != nil {
				e.removed.Store(true)
			}
		}
		// Closing sockets writes to them: not on the client's pipeline goroutine.
		go func() {
			for _, id := range ids {
				b.emit(game.Event{Kind: game.PlayerRemoved, ID: id})
			}
		}()
	case kindChanged:
		b.queueRefresh(ids)
	}
}

// queueRefresh asks the refresh loop to read ids again. It never blocks the caller (a
// message handler): when the loop is behind, a later refresh of everyone will do.
func (b *Backend) queueRefresh(ids []uuid.UUID) {
	if len(ids) == 0 {
		return
	}
	select {
	case b.refresh <- ids:
	default:
	}
}

func (b *Backend) refreshLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ids := <-b.refresh:
			b.reread(ctx, ids)
		}
	}
}

// reread reads the players with ids again, in one round trip per shard, for the ones
// that still have a socket here. A player found gone was removed while this node
// could not hear of it: its sockets are closed.
func (b *Backend) reread(ctx context.Context, ids []uuid.UUID) {
	var execs []rueidis.LuaExec
	var entries []*entry
	var kept []uuid.UUID
	for _, id := range ids {
		e := b.reg.lookup(id)
		if e == nil {
			continue
		}
		k := b.parts[partitionOf(id)]
		execs = append(execs, rueidis.LuaExec{Keys: []string{k.player(id), k.bans}, Args: []string{id.String()}})
		entries = append(entries, e)
		kept = append(kept, id)
	}
	if len(execs) == 0 {
		return
	}
	ctx, cancel := b.op(ctx)
	defer cancel()
	for i, res := range b.s.get.ExecMulti(ctx, b.c, execs...) {
		status, c, _, err := decodeState(res)
		var be *game.BannedError
		switch {
		case errors.As(err, &be):
			entries[i].update(c)
			b.emit(game.Event{Kind: game.PlayerBanned, ID: kept[i], Reason: be.Reason})
		case err != nil:
			continue
		case status == statusGone:
			entries[i].removed.Store(true)
			b.emit(game.Event{Kind: game.PlayerRemoved, ID: kept[i]})
		default:
			entries[i].update(c)
		}
	}
}
