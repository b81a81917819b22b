package redisgame

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// The CSV side of Redis: the backup snapshot that one node at a time writes (a
// game.Source and a game.Lease), and the import of a single server's scores.csv.

// scanBatch is how many players one pipelined read of a scan asks for.
const scanBatch = 512

// Version implements game.Source: the clicks and other edits of every partition. It
// only grows: a removal takes clicks off and adds more edits.
func (b *Backend) Version(ctx context.Context) (int64, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	counts, err := b.readCounters(ctx)
	if err != nil {
		return 0, b.unavailable("read counters", err)
	}
	var v int64
	for _, c := range counts {
		v += c[0] + c[4]
	}
	return v, nil
}

// Records implements game.Source: every player, the idle reset applied as of the
// game's clock. Clicks go on meanwhile; each record is one atomic read.
func (b *Backend) Records(ctx context.Context, fn func(game.Record) error) error {
	return b.scan(ctx, fn)
}

// scan calls fn with every player, one partition after the other, until fn fails.
func (b *Backend) scan(ctx context.Context, fn func(game.Record) error) error {
	now, err := b.clockMicros(ctx)
	if err != nil {
		return err
	}
	for i := range b.parts {
		k := b.parts[i]
		octx, cancel := b.op(ctx)
		ids, err := b.c.Do(octx, b.c.B().Smembers().Key(k.ids).Build()).AsStrSlice()
		cancel()
		if err != nil {
			return b.unavailable("scan players", err)
		}
		for start := 0; start < len(ids); start += scanBatch {
			batch := ids[start:min(start+scanBatch, len(ids))]
			cmds := make(rueidis.Commands, len(batch))
			for j, id := range batch {
				cmds[j] = b.c.B().Hmget().Key(k.prefix+"pl:"+id).Field("h", "d").Build()
			}
			octx, cancel := b.op(ctx)
			res := b.c.DoMulti(octx, cmds...)
			cancel()
			for j, r := range res {
				f, err := r.ToArray()
				if err != nil {
					return b.unavailable("scan players", err)
				}
				if f[0].IsNil() {
					continue // removed meanwhile
				}
				var s [2]string
				for x := range s {
					s[x], _ = f[x].ToString()
				}
				id, err := uuid.Parse(batch[j])
				if err != nil {
					return fmt.Errorf("%s holds %q, not a player id", k.ids, batch[j])
				}
				if err := fn(b.record(id, s[0], s[1], now)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// clockMicros is the game's clock now: the rules' clock when set, else Redis TIME.
func (b *Backend) clockMicros(ctx context.Context) (int64, error) {
	if b.cfg.Now != nil {
		return b.cfg.Now().UnixMicro(), nil
	}
	ctx, cancel := b.op(ctx)
	defer cancel()
	t, err := b.c.Do(ctx, b.c.B().Time().Build()).AsStrSlice()
	if err != nil || len(t) != 2 {
		return 0, b.unavailable("time", err)
	}
	sec, err1 := strconv.ParseInt(t[0], 10, 64)
	us, err2 := strconv.ParseInt(t[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("redis at %s: TIME answered %q", b.addr, t)
	}
	return sec*1e6 + us, nil
}

// Lease returns the lease that lets one node at a time write the game's snapshot:
// it expires after ttl unless its holder renews it, so a dead holder's place is
// taken within ttl.
func (b *Backend) Lease(ttl time.Duration) game.Lease { return &lease{b: b, ttl: ttl} }

type lease struct {
	b   *Backend
	ttl time.Duration
}

func (l *lease) Hold(ctx context.Context) (bool, error) {
	ctx, cancel := l.b.op(ctx)
	defer cancel()
	n, err := l.b.s.lease.Exec(ctx, l.b.c, []string{keyLease}, []string{l.b.node, strconv.FormatInt(l.ttl.Milliseconds(), 10)}).AsInt64()
	if err != nil {
		return false, l.b.unavailable("snapshot lease", err)
	}
	return n == 1, nil
}

func (l *lease) Release(ctx context.Context) error {
	ctx, cancel := l.b.op(ctx)
	defer cancel()
	if err := l.b.s.release.Exec(ctx, l.b.c, []string{keyLease}, []string{l.b.node}).Error(); err != nil {
		return l.b.unavailable("release the snapshot lease", err)
	}
	return nil
}

// ImportResult says what an import did.
type ImportResult struct {
	// Imported is the number of players written.
	Imported int
	// Skipped lists the ids already in Redis, left as they were (with force only).
	Skipped []uuid.UUID
	// Players and Clicks are the game's counts after the import.
	Players, Clicks int64
}

// Import adds the players of a scores file to the game. The whole file is checked
// first, as a server checks it at start, so a malformed file writes nothing. Without
// force the game must be empty. With force, players whose id is in Redis already are
// left as they are (so an interrupted import can simply be run again). At the end the
// game's player count and click sum are checked against what was written.
func (b *Backend) Import(ctx context.Context, open func() (io.ReadCloser, error), name string, force bool) (ImportResult, error) {
	var res ImportResult
	before, err := b.totals(ctx)
	if err != nil {
		return res, err
	}
	if before.Players > 0 && !force {
		return res, fmt.Errorf("redis at %s already holds a game of %d players; import into an empty one, or add --force to add the file's players to it", b.addr, before.Players)
	}
	// Pass 1: the whole file must load.
	seen := make(map[uuid.UUID]struct{})
	if err := readFile(open, name, func(r game.Record) error {
		if _, dup := seen[r.ID]; dup {
			return fmt.Errorf("duplicate id %s", r.ID)
		}
		seen[r.ID] = struct{}{}
		return nil
	}); err != nil {
		return res, err
	}
	// Pass 2: write it, a batch of players per round trip. The players join now, for
	// ForgetUnplayed: the file does not say when they joined.
	nowUs, err := b.clockMicros(ctx)
	if err != nil {
		return res, err
	}
	now := strconv.FormatInt(nowUs, 10)
	var batch []game.Record
	var clicks int64
	flush := func() error {
		execs := make([]rueidis.LuaExec, len(batch))
		for i, r := range batch {
			k := b.parts[partitionOf(r.ID)]
			execs[i] = rueidis.LuaExec{
				Keys: []string{k.player(r.ID), k.part, k.board, k.ids},
				Args: []string{r.ID.String(), r.Handle, strconv.FormatInt(r.Score, 10), strconv.FormatInt(r.Best, 10),
					strconv.FormatInt(unixMicro(r.BestAt), 10), strconv.FormatInt(r.Total, 10),
					strconv.FormatInt(unixMicro(r.LastClick), 10), flippedID(r.ID), b.arg.board, now},
			}
		}
		octx, cancel := context.WithTimeout(ctx, 10*b.opts.OpTimeout)
		defer cancel()
		for i, out := range b.s.importer.ExecMulti(octx, b.c, execs...) {
			n, err := out.AsInt64()
			if err != nil {
				return b.unavailable("import", err)
			}
			if n == 1 {
				res.Imported++
				clicks += batch[i].Total
			} else {
				res.Skipped = append(res.Skipped, batch[i].ID)
			}
		}
		ids := make([]uuid.UUID, 0, len(batch))
		for _, r := range batch {
			if r.Best > 0 {
				ids = append(ids, r.ID)
			}
		}
		if len(ids) > 0 {
			if err := b.syncRanks(octx, ids); err != nil {
				return b.unavailable("import ranks", err)
			}
		}
		batch = batch[:0]
		return nil
	}
	err = readFile(open, name, func(r game.Record) error {
		batch = append(batch, r)
		if len(batch) == scanBatch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return res, err
	}
	after, err := b.totals(ctx)
	if err != nil {
		return res, err
	}
	res.Players, res.Clicks = after.Players, after.TotalClicks
	if after.Players != before.Players+int64(res.Imported) || after.TotalClicks != before.TotalClicks+clicks {
		return res, fmt.Errorf("after the import redis holds %d players and %d clicks, want %d and %d: another process changed the game meanwhile, or the import went wrong",
			after.Players, after.TotalClicks, before.Players+int64(res.Imported), before.TotalClicks+clicks)
	}
	return res, nil
}

func readFile(open func() (io.ReadCloser, error), name string, load func(game.Record) error) error {
	f, err := open()
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = game.ReadSnapshot(f, name, load)
	return err
}

// totals reads the game's player count and click sum from Redis.
func (b *Backend) totals(ctx context.Context) (game.Stats, error) {
	ctx, cancel := b.op(ctx)
	defer cancel()
	counts, err := b.readCounters(ctx)
	if err != nil {
		return game.Stats{}, b.unavailable("read counters", err)
	}
	var st game.Stats
	for _, c := range counts {
		st.TotalClicks += c[0]
		st.Players += c[1]
	}
	return st, nil
}

func micros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func nanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
