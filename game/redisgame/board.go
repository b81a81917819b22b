package redisgame

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/redis/rueidis"
)

// The leaderboard. Each partition's sorted set ranks its own players, so the game's
// board is the best BoardSize rows of all partitions' tops. A node keeps the top it
// last read of every partition, and every tick reads again only the partitions whose
// board version moved: a click bumps it when the player is in the partition's top
// BoardSize after the click, a rename, reset or removal of such a player too.
//
// A partition is read only down to the board's lowest best (the floor): whatever is
// below cannot enter. When the board's lowest best falls under a partition's floor
// (a moderator removed someone), that partition is read again, deeper.

// partTop is what a node last read of one partition's top.
type partTop struct {
	ver   int64      // the partition's board version when read; -1: never read
	floor int64      // the lowest best that read asked for
	full  bool       // the read returned BoardSize rows, all the partition can add
	rows  []game.Row // best first
}

// counter fields of a partition hash, in the order Tick reads them
var counterFields = []string{"clicks", "players", "refused", "ret", "edits", "bver"}

// readCounters returns every partition's counters, in one round trip per shard.
func (b *Backend) readCounters(ctx context.Context) ([partitions][6]int64, error) {
	var out [partitions][6]int64
	cmds := make(rueidis.Commands, partitions)
	for i := range b.parts {
		cmds[i] = b.c.B().Hmget().Key(b.parts[i].part).Field(counterFields...).Build()
	}
	for i, res := range b.c.DoMulti(ctx, cmds...) {
		vals, err := res.ToArray()
		if err != nil {
			return out, err
		}
		for j := range vals {
			if vals[j].IsNil() {
				continue
			}
			s, err := vals[j].ToString()
			if err != nil {
				return out, err
			}
			if out[i][j], err = strconv.ParseInt(s, 10, 64); err != nil {
				return out, fmt.Errorf("%s %s: %w", b.parts[i].part, counterFields[j], err)
			}
		}
	}
	return out, nil
}

// Tick implements game.Backend: it reads the counters of every partition, and the tops
// of the partitions whose board changed, and publishes the merged board when it
// differs from the last one.
func (b *Backend) Tick(ctx context.Context) (game.Update, bool, error) {
	b.tickMu.Lock()
	defer b.tickMu.Unlock()
	ctx, cancel := b.op(ctx)
	defer cancel()
	counts, err := b.readCounters(ctx)
	if err != nil {
		return game.Update{}, false, b.unavailable("read counters", err)
	}
	var st game.Stats
	var stale []int
	for i, c := range counts {
		st.TotalClicks += c[0]
		st.Players += c[1]
		st.Refused += c[2]
		st.Returning += c[3]
		if c[5] != b.tops[i].ver {
			stale = append(stale, i)
		}
	}
	b.counters.Store(&st)
	b.publishChanged(ctx)
	if now := time.Now().UnixNano(); syncDue(now, b.lastSync.Load(), b.opts.RankSync, b.rankedSync.Load()) {
		b.lastSync.Store(now)
		b.rankedSync.Store(false)
		if b.opts.RankSync >= 0 {
			// In the background: a sync that waits on a slow Redis must not hold the
			// board back, and the board must not wait for the sync.
			b.kickFlush()
		} else if err := b.flushRanks(ctx); err != nil {
			return game.Update{}, false, b.unavailable("sync ranks", err)
		}
	}
	if len(stale) == 0 {
		return game.Update{}, false, nil
	}
	floor := int64(1)
	if rows := b.Board().Rows; len(rows) == b.cfg.BoardSize {
		floor = rows[len(rows)-1].Best
	}
	for len(stale) > 0 {
		if err := b.readTops(ctx, stale, floor, counts); err != nil {
			return game.Update{}, false, b.unavailable("read the board", err)
		}
		rows := b.merge()
		// Rows down to need can be on the board; a partition read only down to a
		// higher floor, and not in full, may hold some of them.
		need := int64(1)
		if len(rows) == b.cfg.BoardSize {
			need = rows[len(rows)-1].Best
		}
		stale = stale[:0]
		for i := range b.tops {
			if t := &b.tops[i]; t.floor > need && !t.full {
				stale = append(stale, i)
			}
		}
		if len(stale) == 0 {
			u, changed := b.pub.Publish(rows)
			if changed {
				board := b.pub.Board()
				b.board.Store(&board)
			}
			return u, changed, nil
		}
		floor = need
	}
	panic("unreachable")
}

// readTops reads the tops of the partitions idx, down to floor.
func (b *Backend) readTops(ctx context.Context, idx []int, floor int64, counts [partitions][6]int64) error {
	cmds := make(rueidis.Commands, len(idx))
	min := strconv.FormatInt(floor, 10)
	for j, i := range idx {
		cmds[j] = b.c.B().Zrange().Key(b.parts[i].board).Min("+inf").Max(min).Byscore().Rev().
			Limit(0, int64(b.cfg.BoardSize)).Withscores().Build()
	}
	for j, res := range b.c.DoMulti(ctx, cmds...) {
		zs, err := res.AsZScores()
		if err != nil {
			return err
		}
		rows := make([]game.Row, len(zs))
		for k, z := range zs {
			if rows[k], err = parseMember(z.Member, int64(z.Score)); err != nil {
				return fmt.Errorf("%s: %w", b.parts[idx[j]].board, err)
			}
		}
		b.tops[idx[j]] = partTop{ver: counts[idx[j]][5], floor: floor, full: len(rows) == b.cfg.BoardSize, rows: rows}
	}
	return nil
}

// merge returns the best BoardSize rows of all partitions' tops.
func (b *Backend) merge() []game.Row {
	var all []game.Row
	for i := range b.tops {
		all = append(all, b.tops[i].rows...)
	}
	slices.SortFunc(all, game.CompareRows)
	if len(all) > b.cfg.BoardSize {
		all = all[:b.cfg.BoardSize]
	}
	return slices.Clip(all)
}

// Board implements game.Backend: the board of the last Tick. It never waits for a
// Tick that is waiting for Redis.
func (b *Backend) Board() game.Update {
	if u := b.board.Load(); u != nil {
		return *u
	}
	return game.Update{}
}

// Stats implements game.Backend: the counters of the last Tick, and the online count
// of the last heartbeat with this node's own share up to date.
func (b *Backend) Stats() game.Stats {
	st := *b.counters.Load()
	st.Online = b.onlineNow()
	st.PeakOnline = max(b.online.peak.Load(), st.Online)
	return st
}

// syncDue reports whether a Tick at now (Unix ns) syncs this node's changed players,
// the last sync having been at last, by Ranks when ranked.
func syncDue(now, last int64, every time.Duration, ranked bool) bool {
	if every < 0 {
		return true
	}
	if ranked {
		every *= 2
	}
	return now-last >= int64(every)
}
