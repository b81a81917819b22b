package game

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Moderation that outlives a player's row: bans, handles a moderator locked, bot
// flags, and forgetting players who never played. In memory, bans and locks are kept
// in a file of their own next to the scores (ModerationFile), written atomically at
// every change, before the change is acknowledged.

// ModerationFile is the name of the file that keeps bans and locked handles, beside
// SnapshotFile.
const ModerationFile = "moderation.csv"

var moderationColumns = []string{"id", "banned_at", "ban_reason", "handle_locked"}

// moderation is what ModerationFile holds.
type moderation struct {
	bans   map[uuid.UUID]Ban
	locked map[uuid.UUID]bool
}

// bans returns the bans in force. The map is never modified: writers copy it.
func (e *Engine) bans() map[uuid.UUID]Ban {
	if m := e.banned.Load(); m != nil {
		return *m
	}
	return nil
}

// persist writes the moderation state, when the engine keeps it in a file. Call with
// modMu held, after the change, so that a ban is on disk before it is acknowledged.
func (e *Engine) persist() error {
	if e.modPath == "" {
		return nil
	}
	m := moderation{bans: e.bans(), locked: map[uuid.UUID]bool{}}
	e.store.Range(func(p *memPlayer) bool {
		if p.locked.Load() {
			m.locked[p.id] = true
		}
		return true
	})
	return WriteFileAtomic(nil, e.modPath, func(w io.Writer) error { return writeModeration(w, m) })
}

func writeModeration(w io.Writer, m moderation) error {
	cw := csv.NewWriter(w)
	cw.Write(moderationColumns)
	ids := map[uuid.UUID]bool{}
	for id := range m.bans {
		ids[id] = true
	}
	for id := range m.locked {
		ids[id] = true
	}
	sorted := make([]uuid.UUID, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.SortFunc(sorted, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	for _, id := range sorted {
		row := []string{id.String(), "", "", strconv.FormatBool(m.locked[id])}
		if b, ok := m.bans[id]; ok {
			row[1], row[2] = b.At.UTC().Format(time.RFC3339Nano), b.Reason
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// readModeration reads a moderation file; a missing file holds nothing.
func readModeration(path string) (moderation, error) {
	m := moderation{bans: map[uuid.UUID]Ban{}, locked: map[uuid.UUID]bool{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("open moderation: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReader(f))
	cr.FieldsPerRecord = len(moderationColumns)
	header, err := cr.Read()
	if err != nil || strings.Join(header, ",") != strings.Join(moderationColumns, ",") {
		return m, fmt.Errorf("%s: line 1: header must be %s", path, strings.Join(moderationColumns, ","))
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return m, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		id, err := uuid.Parse(rec[0])
		if err != nil {
			return m, fmt.Errorf("%s: line %d: id %q is not a UUID", path, line, rec[0])
		}
		if rec[1] != "" {
			at, err := time.Parse(time.RFC3339Nano, rec[1])
			if err != nil {
				return m, fmt.Errorf("%s: line %d: banned_at %q is not an RFC 3339 time", path, line, rec[1])
			}
			if err := CheckBanReason(rec[2]); err != nil {
				return m, fmt.Errorf("%s: line %d: %w", path, line, err)
			}
			m.bans[id] = Ban{Reason: rec[2], At: at}
		}
		locked, err := strconv.ParseBool(rec[3])
		if err != nil {
			return m, fmt.Errorf("%s: line %d: handle_locked %q is not true or false", path, line, rec[3])
		}
		if locked {
			m.locked[id] = true
		}
	}
}

// loadModeration installs a moderation file's state; call it before loading the
// scores, which then find their players' bans and locks.
func (e *Engine) loadModeration(path string) error {
	m, err := readModeration(path)
	if err != nil {
		return err
	}
	e.banned.Store(&m.bans)
	e.lockedAtLoad = m.locked
	e.modPath = path
	return nil
}

// Ban implements Backend.
func (e *Engine) Ban(_ context.Context, id uuid.UUID, reason string) error {
	if err := CheckBanReason(reason); err != nil {
		return err
	}
	p := e.get(id)
	if p == nil {
		return fmt.Errorf("%w: %s", ErrNoPlayer, id)
	}
	e.modMu.Lock()
	defer e.modMu.Unlock()
	old := e.bans()
	next := make(map[uuid.UUID]Ban, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[id] = Ban{Reason: reason, At: e.now().UTC()}
	e.banned.Store(&next)
	if err := e.persist(); err != nil {
		e.banned.Store(&old)
		return fmt.Errorf("ban not kept: %w", err)
	}
	p.banned.Store(true)
	p.hidden.Store(true)
	p.lane.edits.Add(1)
	e.rebuild.Store(true)
	e.queueRank(p) // and its place in the rank index
	return nil
}

// Unban implements Backend.
func (e *Engine) Unban(_ context.Context, id uuid.UUID) error {
	e.modMu.Lock()
	defer e.modMu.Unlock()
	old := e.bans()
	if _, ok := old[id]; !ok {
		return fmt.Errorf("%w: no ban on %s", ErrNoPlayer, id)
	}
	next := make(map[uuid.UUID]Ban, len(old))
	for k, v := range old {
		if k != id {
			next[k] = v
		}
	}
	e.banned.Store(&next)
	if err := e.persist(); err != nil {
		e.banned.Store(&old)
		return fmt.Errorf("unban not kept: %w", err)
	}
	if p := e.get(id); p != nil {
		p.banned.Store(false)
		p.hidden.Store(p.bots.flaggedAt.Load() != 0 && e.cfg.Bots.Action == BotHide)
		p.lane.edits.Add(1)
		e.rebuild.Store(true)
		e.queueRank(p) // and its place in the rank index
	}
	return nil
}

// Bans implements Backend.
func (e *Engine) Bans(context.Context) ([]BanInfo, error) {
	var out []BanInfo
	for id, b := range e.bans() {
		info := BanInfo{Ban: b, ID: id}
		if p := e.get(id); p != nil {
			info.Handle = p.Handle()
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b BanInfo) int { return b.At.Compare(a.At) })
	return out, nil
}

// banOf returns the error for a banned identity, or nil.
func (e *Engine) banOf(id uuid.UUID) error {
	if b, ok := e.bans()[id]; ok {
		return &BannedError{Ban: b}
	}
	return nil
}

// LockHandle implements Backend.
func (e *Engine) LockHandle(_ context.Context, gp Player, handle string) (string, error) {
	p := mem(gp)
	h, err := e.rename(p, handle)
	if err != nil {
		return "", err
	}
	e.modMu.Lock()
	defer e.modMu.Unlock()
	was := p.locked.Swap(true)
	if err := e.persist(); err != nil {
		p.locked.Store(was)
		return "", fmt.Errorf("lock not kept: %w", err)
	}
	return h, nil
}

// UnlockHandle implements Backend.
func (e *Engine) UnlockHandle(_ context.Context, gp Player) error {
	p := mem(gp)
	e.modMu.Lock()
	defer e.modMu.Unlock()
	was := p.locked.Swap(false)
	if err := e.persist(); err != nil {
		p.locked.Store(was)
		return fmt.Errorf("unlock not kept: %w", err)
	}
	return nil
}

// flagged applies the bot action to p, which the detection just flagged.
func (e *Engine) flagged(p *memPlayer) {
	e.flags.Add(1)
	if e.cfg.Bots.Action == BotHide {
		p.hidden.Store(true)
		e.rebuild.Store(true)
		e.queueRank(p) // and its place in the rank index
	}
}

// Suspects implements Backend.
func (e *Engine) Suspects(_ context.Context, offset, limit int) ([]PlayerInfo, int, error) {
	var all []*memPlayer
	e.store.Range(func(p *memPlayer) bool {
		if p.bots.flaggedAt.Load() != 0 {
			all = append(all, p)
		}
		return true
	})
	slices.SortFunc(all, func(a, b *memPlayer) int {
		x, y := a.bots.flaggedAt.Load(), b.bots.flaggedAt.Load()
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	n := len(all)
	offset = min(max(offset, 0), n)
	all = all[offset:min(n, offset+max(limit, 0))]
	now := e.now()
	out := make([]PlayerInfo, len(all))
	for i, p := range all {
		out[i] = e.info(p, now)
	}
	return out, n, nil
}

// Clear implements Backend.
func (e *Engine) Clear(_ context.Context, gp Player) error {
	p := mem(gp)
	if p.bots.flaggedAt.Load() == 0 {
		return nil
	}
	p.bots.clear()
	if e.cfg.Bots.Action == BotThrottle {
		p.violation.Store(0) // the throttle was the flag's: it lifts with it
	}
	if p.hidden.Load() && !p.banned.Load() {
		p.hidden.Store(false)
		e.rebuild.Store(true)
		e.queueRank(p) // and its place in the rank index
	}
	return nil
}

// ForgetUnplayed implements Backend. It costs one pass over the players.
func (e *Engine) ForgetUnplayed(_ context.Context, t time.Time) (int, error) {
	before := t.UnixNano()
	n := e.store.removeIf(func(p *memPlayer) bool {
		return p.total.Load() == 0 && p.conns.Load() == 0 && p.joinedAt < before && !p.locked.Load()
	})
	if n > 0 {
		e.lanes[0].edits.Add(int64(n))
	}
	return n, nil
}

// removeIf takes every player for which drop is true out of the store, one shard at
// a time, each with one copy of its table; the players are marked removed, for the
// sockets that still hold them. It returns how many it removed.
func (m *memStore) removeIf(drop func(*memPlayer) bool) int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		old := s.table.Load()
		var gone []*memPlayer
		for j := range old.slots {
			if p := old.slots[j].Load(); p != nil && drop(p) {
				gone = append(gone, p)
			}
		}
		if len(gone) > 0 {
			skip := make(map[*memPlayer]bool, len(gone))
			for _, p := range gone {
				skip[p] = true
				p.removed.Store(true)
			}
			c := newTable(len(old.slots))
			for j := range old.slots {
				if p := old.slots[j].Load(); p != nil && !skip[p] {
					c.insert(p)
				}
			}
			s.table.Store(c)
			s.n.Add(-int64(len(gone)))
			n += len(gone)
		}
		s.mu.Unlock()
	}
	return n
}
