package redisgame

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// Moderation on Redis. These are rare; a search scans every player (pipelined), a
// plain list reads the partitions' boards.

// Info implements game.Backend. Online means a socket is open on a live node.
func (b *Backend) Info(ctx context.Context, gp game.Player) (game.PlayerInfo, error) {
	live, err := b.liveNodes(ctx)
	if err != nil {
		return game.PlayerInfo{}, err
	}
	return b.info(ctx, redisPlayer(gp).id, live)
}

// info reads the player with id; live are the nodes alive now, for Online.
func (b *Backend) info(ctx context.Context, id uuid.UUID, live map[string]bool) (game.PlayerInfo, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	k := b.parts[partitionOf(id)]
	res := b.c.DoMulti(ctx, b.c.B().Hgetall().Key(k.player(id)).Build(), b.c.B().Hget().Key(k.bans).Field(id.String()).Build())
	all, err := res[0].AsStrMap()
	if err != nil {
		return game.PlayerInfo{}, b.unavailable("info", err)
	}
	if all["h"] == "" {
		return game.PlayerInfo{}, fmt.Errorf("%w: %s", game.ErrNoPlayer, id)
	}
	info := game.PlayerInfo{Record: b.record(id, all["h"], all["d"], b.now()/1000), HandleLocked: all["lk"] != ""}
	for k, v := range all {
		if node, ok := strings.CutPrefix(k, "o:"); ok && live[node] && v != "0" {
			info.Online = true
		}
	}
	if ban, err := res[1].ToString(); err == nil {
		var be *game.BannedError
		if errors.As(parseBan(ban), &be) {
			info.Banned = &be.Ban
		}
	}
	if fl := all["fl"]; fl != "" {
		info.Suspect = parseSuspect(fl)
	}
	return info, nil
}

// parseSuspect reads the evidence of a flag: "at rule rate×100 cv×10000 samples".
func parseSuspect(fl string) *game.Suspect {
	var at, rule, rate, cv, n int64
	if _, err := fmt.Sscanf(fl, "%d %d %d %d %d", &at, &rule, &rate, &cv, &n); err != nil {
		return nil
	}
	return &game.Suspect{Rule: game.BotRule(rule), At: micros(at), Rate: float64(rate) / 100, CV: float64(cv) / 10000, Samples: int(n)}
}

// liveNodes returns the nodes that sent a heartbeat lately (every heartbeat forgets
// the nodes that missed theirs).
func (b *Backend) liveNodes(ctx context.Context) (map[string]bool, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	nodes, err := b.c.Do(ctx, b.c.B().Zrange().Key(keyNodes).Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil {
		return nil, b.unavailable("live nodes", err)
	}
	live := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		live[n] = true
	}
	return live, nil
}

// record builds a player's record from its handle and packed numbers (the d field,
// µs times), the idle reset applied as of now (µs).
func (b *Backend) record(id uuid.UUID, h, d string, now int64) game.Record {
	v := unpackD(d)
	r := game.Record{ID: id, Handle: h, Score: v[0], Best: v[1], Total: v[3], LastClick: micros(v[4]), BestAt: micros(v[2])}
	if v[4] != 0 && now-v[4] >= b.cfg.IdleReset.Microseconds() {
		r.Score = 0
	}
	return r
}

// Reset implements game.Backend.
func (b *Backend) Reset(ctx context.Context, gp game.Player) error {
	p := redisPlayer(gp)
	ctx, cancel := b.op(ctx)
	defer cancel()
	if err := b.applied(p, "reset", b.s.reset.Exec(ctx, b.c, []string{p.key, p.keys.part, p.keys.board}, nil)); err != nil {
		return err
	}
	b.syncRank(ctx, p.id)
	b.publish(ctx, kindChanged, p.id)
	return nil
}

// Remove implements game.Backend. Every node closes the player's sockets.
func (b *Backend) Remove(ctx context.Context, id uuid.UUID) (game.PlayerInfo, error) {
	k := b.parts[partitionOf(id)]
	ctx, cancel := b.op(ctx)
	defer cancel()
	res := b.s.remove.Exec(ctx, b.c, []string{k.player(id), k.part, k.board, k.ids, k.suspects}, []string{id.String()})
	status, c, _, err := decodeState(res)
	if err != nil {
		return game.PlayerInfo{}, b.unavailable("remove", err)
	}
	if status == statusGone {
		return game.PlayerInfo{}, fmt.Errorf("%w: %s", game.ErrNoPlayer, id)
	}
	if e := b.reg.lookup(id); e != nil {
		e.removed.Store(true)
	}
	b.syncRank(ctx, id)
	b.publish(ctx, kindRemoved, id)
	r := game.Record{ID: id, Handle: c.view.Handle, Score: c.view.Score, Best: c.view.Best, Total: c.view.Total,
		LastClick: nanos(c.view.LastClick), BestAt: nanos(c.bestAt)}
	if c.view.LastClick != 0 && b.now()-c.view.LastClick >= int64(b.cfg.IdleReset) {
		r.Score = 0
	}
	return game.PlayerInfo{Record: r}, nil
}

// Find implements game.Backend. Without a filter, a page within the players who have
// a best comes from the partitions' boards; anything else scans every player.
func (b *Backend) Find(ctx context.Context, match func(uuid.UUID, string) bool, offset, limit int) ([]game.PlayerInfo, int, error) {
	offset, limit = max(offset, 0), max(limit, 0)
	if match == nil {
		st, err := b.totals(ctx)
		if err != nil {
			return nil, 0, err
		}
		if page, ok, err := b.findOnBoards(ctx, offset, limit); err != nil || ok {
			return page, int(st.Players), err
		}
	}
	var sel []game.PlayerInfo
	matched := 0
	keep := offset + limit
	err := b.scan(ctx, func(r game.Record) error {
		if match != nil && !match(r.ID, r.Handle) {
			return nil
		}
		matched++
		sel = append(sel, game.PlayerInfo{Record: r})
		if len(sel) >= max(2*keep, 64) {
			sortInfos(sel)
			sel = sel[:keep]
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	sortInfos(sel)
	if offset >= len(sel) {
		return nil, matched, nil
	}
	return b.infos(ctx, sel[offset:min(len(sel), keep)], matched)
}

// infos reads the page's players again, with whether they are online: a scan reads
// only what ranks them.
func (b *Backend) infos(ctx context.Context, page []game.PlayerInfo, matched int) ([]game.PlayerInfo, int, error) {
	live, err := b.liveNodes(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := make([]game.PlayerInfo, 0, len(page))
	for _, p := range page {
		info, err := b.info(ctx, p.ID, live)
		if errors.Is(err, game.ErrNoPlayer) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, info)
	}
	return out, matched, nil
}

func sortInfos(s []game.PlayerInfo) {
	slices.SortFunc(s, func(x, y game.PlayerInfo) int {
		return game.CompareRows(rowOfRecord(x.Record), rowOfRecord(y.Record))
	})
}

func rowOfRecord(r game.Record) game.Row {
	return game.Row{ID: r.ID, Best: r.Best, BestAt: unixNano(r.BestAt)}
}

// findOnBoards answers an unfiltered page from the partitions' boards when the whole
// page lies among the players with a best; ok is false otherwise.
func (b *Backend) findOnBoards(ctx context.Context, offset, limit int) ([]game.PlayerInfo, bool, error) {
	keep := int64(offset + limit)
	ctx, cancel := b.op(ctx)
	defer cancel()
	cmds := make(rueidis.Commands, partitions)
	for i := range b.parts {
		cmds[i] = b.c.B().Zrange().Key(b.parts[i].board).Min("0").Max(strconv.FormatInt(keep-1, 10)).Rev().Withscores().Build()
	}
	var rows []game.Row
	for i, res := range b.c.DoMulti(ctx, cmds...) {
		zs, err := res.AsZScores()
		if err != nil {
			return nil, false, b.unavailable("list players", err)
		}
		for _, z := range zs {
			r, err := parseMember(z.Member, int64(z.Score))
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", b.parts[i].board, err)
			}
			rows = append(rows, r)
		}
	}
	if int64(len(rows)) < keep {
		return nil, false, nil // the page reaches players without a best
	}
	slices.SortFunc(rows, game.CompareRows)
	page := make([]game.PlayerInfo, 0, keep-int64(offset))
	for _, r := range rows[offset:keep] {
		page = append(page, game.PlayerInfo{Record: game.Record{ID: r.ID}})
	}
	out, _, err := b.infos(ctx, page, 0)
	return out, err == nil, err
}

// unpackD reads the first five numbers of a player's d field (s b ba t lc): "B" and
// little-endian doubles as the scripts' packd writes them, or numbers and spaces as
// earlier versions wrote. What does not parse reads as 0, as a missing field does.
func unpackD(d string) (v [5]int64) {
	if len(d) >= 1+8*len(v) && d[0] == 'B' {
		for i := range v {
			var bits uint64
			for j := 8; j > 0; j-- {
				bits = bits<<8 | uint64(d[8*i+j])
			}
			v[i] = int64(math.Float64frombits(bits))
		}
		return v
	}
	for i, f := range strings.Fields(d) {
		if i == len(v) {
			break
		}
		v[i], _ = strconv.ParseInt(f, 10, 64)
	}
	return v
}
