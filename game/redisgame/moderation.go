package redisgame

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// Moderation that outlives a player's row, in Redis: bans in each partition's bans
// hash, locked handles and bot flags in the player's hash, and forgetting the players
// who never played.

// LockHandle implements game.Backend.
func (b *Backend) LockHandle(ctx context.Context, gp game.Player, raw string) (string, error) {
	h, err := game.NormalizeHandle(raw)
	if err != nil {
		return "", err
	}
	return b.rename(ctx, redisPlayer(gp), h, "lock")
}

// UnlockHandle implements game.Backend.
func (b *Backend) UnlockHandle(ctx context.Context, gp game.Player) error {
	p := redisPlayer(gp)
	ctx, cancel := b.op(ctx)
	defer cancel()
	return b.applied(p, "unlock", b.s.unlock.Exec(ctx, b.c, []string{p.key, p.keys.part}, nil))
}

// Ban implements game.Backend. Every node closes the player's sockets.
func (b *Backend) Ban(ctx context.Context, id uuid.UUID, reason string) error {
	if err := game.CheckBanReason(reason); err != nil {
		return err
	}
	now, err := b.clockMicros(ctx)
	if err != nil {
		return err
	}
	k := b.parts[partitionOf(id)]
	octx, cancel := b.op(ctx)
	defer cancel()
	n, err := b.s.ban.Exec(octx, b.c, []string{k.player(id), k.part, k.board, k.bans},
		[]string{id.String(), strconv.FormatInt(now, 10) + " " + reason}).AsInt64()
	if err != nil {
		return b.unavailable("ban", err)
	}
	if n == statusGone {
		return fmt.Errorf("%w: %s", game.ErrNoPlayer, id)
	}
	b.syncRank(octx, id)
	b.publishBan(octx, id, reason)
	return nil
}

// Unban implements game.Backend.
func (b *Backend) Unban(ctx context.Context, id uuid.UUID) error {
	k := b.parts[partitionOf(id)]
	ctx, cancel := b.op(ctx)
	defer cancel()
	n, err := b.s.unban.Exec(ctx, b.c, []string{k.player(id), k.part, k.board, k.bans}, []string{id.String(), flippedID(id)}).AsInt64()
	if err != nil {
		return b.unavailable("unban", err)
	}
	if n == statusGone {
		return fmt.Errorf("%w: no ban on %s", game.ErrNoPlayer, id)
	}
	b.syncRank(ctx, id)
	b.publish(ctx, kindChanged, id)
	return nil
}

// Bans implements game.Backend: every partition's bans, with the handles of the
// players still in the game.
func (b *Backend) Bans(ctx context.Context) ([]game.BanInfo, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	cmds := make(rueidis.Commands, partitions)
	for i := range b.parts {
		cmds[i] = b.c.B().Hgetall().Key(b.parts[i].bans).Build()
	}
	var out []game.BanInfo
	for _, res := range b.c.DoMulti(ctx, cmds...) {
		m, err := res.AsStrMap()
		if err != nil {
			return nil, b.unavailable("list bans", err)
		}
		for ids, v := range m {
			id, err := uuid.Parse(ids)
			if err != nil {
				continue
			}
			var be *game.BannedError
			errors.As(parseBan(v), &be)
			out = append(out, game.BanInfo{Ban: be.Ban, ID: id})
		}
	}
	if len(out) > 0 {
		handles := make(rueidis.Commands, len(out))
		for i, bi := range out {
			handles[i] = b.c.B().Hget().Key(b.parts[partitionOf(bi.ID)].player(bi.ID)).Field("h").Build()
		}
		for i, res := range b.c.DoMulti(ctx, handles...) {
			out[i].Handle, _ = res.ToString()
		}
	}
	slices.SortFunc(out, func(x, y game.BanInfo) int { return y.At.Compare(x.At) })
	return out, nil
}

// Suspects implements game.Backend: the partitions' lists of flagged players, merged.
func (b *Backend) Suspects(ctx context.Context, offset, limit int) ([]game.PlayerInfo, int, error) {
	offset, limit = max(offset, 0), max(limit, 0)
	keep := int64(offset + limit)
	octx, cancel := b.op(ctx)
	defer cancel()
	cmds := make(rueidis.Commands, 0, 2*partitions)
	for i := range b.parts {
		cmds = append(cmds, b.c.B().Zcard().Key(b.parts[i].suspects).Build(),
			b.c.B().Zrange().Key(b.parts[i].suspects).Min("0").Max(strconv.FormatInt(max(keep-1, 0), 10)).Rev().Withscores().Build())
	}
	type flagged struct {
		id uuid.UUID
		at float64
	}
	var all []flagged
	total := 0
	res := b.c.DoMulti(octx, cmds...)
	for i := 0; i < len(res); i += 2 {
		n, err := res[i].AsInt64()
		if err != nil {
			return nil, 0, b.unavailable("list suspects", err)
		}
		total += int(n)
		zs, err := res[i+1].AsZScores()
		if err != nil {
			return nil, 0, b.unavailable("list suspects", err)
		}
		for _, z := range zs {
			if id, err := uuid.Parse(z.Member); err == nil {
				all = append(all, flagged{id, z.Score})
			}
		}
	}
	slices.SortFunc(all, func(x, y flagged) int {
		switch {
		case x.at > y.at:
			return -1
		case x.at < y.at:
			return 1
		}
		return strings.Compare(x.id.String(), y.id.String())
	})
	if offset >= len(all) || limit == 0 {
		return nil, total, nil
	}
	page := make([]game.PlayerInfo, 0, limit)
	for _, f := range all[offset:min(len(all), offset+limit)] {
		page = append(page, game.PlayerInfo{Record: game.Record{ID: f.id}})
	}
	out, _, err := b.infos(ctx, page, total)
	return out, total, err
}

// Clear implements game.Backend.
func (b *Backend) Clear(ctx context.Context, gp game.Player) error {
	p := redisPlayer(gp)
	ctx, cancel := b.op(ctx)
	defer cancel()
	n, err := b.s.clear.Exec(ctx, b.c, []string{p.key, p.keys.part, p.keys.board, p.keys.bans, p.keys.suspects},
		[]string{p.idText, p.flipped, b.arg.action}).AsInt64()
	if err != nil {
		return b.unavailable("clear", err)
	}
	if n == statusGone {
		return fmt.Errorf("%w: %s", game.ErrNoPlayer, p.id)
	}
	b.syncRank(ctx, p.id) // a hidden player comes back
	b.publish(ctx, kindChanged, p.id)
	if c, err := b.read(ctx, p.id); err == nil {
		p.entry.Load().update(c) // the lifted throttle shows in this node's copy at once
	}
	return nil
}

// ForgetUnplayed implements game.Backend. It reads every player: the players who never
// clicked are kept out of the scan's way only by their number, so it suits an hourly
// sweep by the node that holds the snapshot lease.
func (b *Backend) ForgetUnplayed(ctx context.Context, t time.Time) (int, error) {
	cut := strconv.FormatInt(t.UnixMicro(), 10)
	forgotten := 0
	for i := range b.parts {
		k := b.parts[i]
		octx, cancel := b.op(ctx)
		ids, err := b.c.Do(octx, b.c.B().Smembers().Key(k.ids).Build()).AsStrSlice()
		cancel()
		if err != nil {
			return forgotten, b.unavailable("forget unplayed", err)
		}
		for start := 0; start < len(ids); start += scanBatch {
			batch := ids[start:min(start+scanBatch, len(ids))]
			execs := make([]rueidis.LuaExec, len(batch))
			for j, id := range batch {
				execs[j] = rueidis.LuaExec{Keys: []string{k.prefix + "pl:" + id, k.part, k.ids}, Args: []string{id, cut}}
			}
			octx, cancel := b.op(ctx)
			res := b.s.forget.ExecMulti(octx, b.c, execs...)
			cancel()
			for _, r := range res {
				n, err := r.AsInt64()
				if err != nil {
					return forgotten, b.unavailable("forget unplayed", err)
				}
				forgotten += int(n)
			}
		}
	}
	return forgotten, nil
}
