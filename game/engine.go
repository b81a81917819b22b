// Package game holds the rules and the state of Click the Button: players, clicks, the
// bot throttle, the idle reset, the top-100 leaderboard and the CSV snapshot. It knows
// nothing of HTTP, JSON or WebSockets.
package game

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Config holds the rules that a self-hoster may tune.
type Config struct {
	// ThrottleLimit is the number of click attempts in one ThrottleWindow that a player
	// may make; one more and the player is throttled.
	ThrottleLimit int
	// ThrottleWindow is the window the limit is counted over.
	ThrottleWindow time.Duration
	// ThrottlePenalty is how long a throttled player waits between counted clicks, and
	// how long the player must stay under the limit for the throttle to lift.
	ThrottlePenalty time.Duration
	// IdleReset is how long a player may go without a counted click before the current
	// score goes back to 0.
	IdleReset time.Duration
	// BoardSize is the number of rows on the leaderboard.
	BoardSize int
	// Now is the clock of the rules: throttle windows, the idle reset and who reached
	// a best first. nil means the backend's own: time.Now in memory, the Redis server's
	// TIME in Redis. Tests set it to drive time by hand.
	Now func() time.Time
	// Bots are the bot detection's thresholds and what a flagged player gets.
	Bots BotRules
}

// DefaultConfig returns the rules of the game as designed.
func DefaultConfig() Config {
	return Config{
		ThrottleLimit:   50,
		ThrottleWindow:  time.Second,
		ThrottlePenalty: time.Minute,
		IdleReset:       5 * time.Minute,
		BoardSize:       100,
		Bots:            DefaultBotRules(),
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.ThrottleLimit < 1 || c.ThrottleLimit >= attemptMask:
		return fmt.Errorf("throttle limit must be between 1 and %d, got %d", attemptMask-1, c.ThrottleLimit)
	case c.ThrottleWindow < time.Millisecond:
		return fmt.Errorf("throttle window must be at least 1ms, got %s", c.ThrottleWindow)
	case c.ThrottlePenalty < time.Millisecond:
		return fmt.Errorf("throttle penalty must be at least 1ms, got %s", c.ThrottlePenalty)
	case c.IdleReset < time.Millisecond:
		return fmt.Errorf("idle reset must be at least 1ms, got %s", c.IdleReset)
	case c.BoardSize < 1 || c.BoardSize > 10000:
		return fmt.Errorf("board size must be between 1 and 10000, got %d", c.BoardSize)
	}
	return c.Bots.Validate()
}

const laneCount = 64

// lane stripes the engine's change counters and changed lists, so that clicks of players
// in different lanes never write to the same cache line.
type lane struct {
	clicks  atomic.Int64              // counted clicks
	refused atomic.Int64              // click attempts refused by the throttle
	edits   atomic.Int64              // joins, renames and other changes that are not clicks
	changed atomic.Pointer[memPlayer] // players whose row may have changed since the last tick
	// ranked lists the players whose best rose below the board's threshold: only their
	// place in the rank index changed.
	ranked atomic.Pointer[memPlayer]
	_      [24]byte
}

// ReturnAfter is how long a player must have been away to count as returning.
const ReturnAfter = 30 * time.Minute

// Engine is the in-memory Backend: the whole game in one process, its players in a
// lock-free sharded table. All its methods are safe for concurrent use; Click, State
// and Get never lock, and a click allocates nothing.
type Engine struct {
	cfg        Config
	now        func() time.Time
	store      *memStore
	lanes      [laneCount]lane
	online     atomic.Int64
	peakOnline atomic.Int64
	returning  atomic.Int64

	// threshold is the lowest best that can still enter the board; clicks below it do
	// not queue the player for the next tick.
	threshold atomic.Int64

	// rebuild asks the next Tick for a full recompute of the board, after a moderator
	// lowered or removed a best (admin.go); forgotten counts the clicks of removed
	// players, which TotalClicks no longer includes.
	rebuild   atomic.Bool
	forgotten atomic.Int64

	tickMu sync.Mutex // one Tick or rebuild at a time
	board  board      // guarded by tickMu
	// rankMu guards ranks, which Ranks brings up to date from the lanes' ranked lists
	// (rank.go): the tick only queues, so its cost stays that of the board.
	rankMu     sync.Mutex
	ranks      rankIndex
	ranksStale bool // the index needs a full rebuild before the next answer

	// Moderation (moderation.go): the bans in force, copied on write so that the
	// session path reads them without a lock; the file they are kept in, if any.
	banned       atomic.Pointer[map[uuid.UUID]Ban]
	modMu        sync.Mutex // one moderation change at a time, with its write
	modPath      string
	lockedAtLoad map[uuid.UUID]bool
	flags        atomic.Int64 // players the bot detection flagged since the start
}

// New returns an empty in-memory game. cfg must pass Validate.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, now: cfg.Now, store: newMemStore()}
	if e.now == nil {
		e.now = time.Now
	}
	e.board.init(cfg.BoardSize)
	e.threshold.Store(1)
	return e, nil
}

// Config implements Backend.
func (e *Engine) Config() Config { return e.cfg }

func (e *Engine) newPlayer(id uuid.UUID, handle string) *memPlayer {
	p := new(memPlayer)
	e.initPlayer(p, id, handle, e.now().UnixNano(), e.bans())
	return p
}

// initPlayer sets up the new player p, created at now (Unix ns) while bans held.
func (e *Engine) initPlayer(p *memPlayer, id uuid.UUID, handle string, now int64, bans map[uuid.UUID]Ban) {
	p.id, p.lane, p.joinedAt = id, &e.lanes[hash(id)&(laneCount-1)], now
	p.firstHandle = handle
	p.handle.Store(&p.firstHandle)
	if _, banned := bans[id]; banned {
		p.banned.Store(true)
		p.hidden.Store(true)
	}
}

func (e *Engine) join(rawHandle string) (*memPlayer, error) {
	h, err := NormalizeHandle(rawHandle)
	if err != nil {
		return nil, err
	}
	for {
		p, added := e.store.Add(e.newPlayer(uuid.New(), h))
		if added {
			p.lane.edits.Add(1)
			return p, nil
		}
	}
}

func (e *Engine) get(id uuid.UUID) *memPlayer { return e.store.Get(id) }

func (e *Engine) restore(id uuid.UUID, rawHandle string) (*memPlayer, error) {
	if p := e.store.Get(id); p != nil {
		return p, nil
	}
	h, err := NormalizeHandle(rawHandle)
	if err != nil {
		return nil, err
	}
	p, added := e.store.Add(e.newPlayer(id, h))
	if added {
		p.lane.edits.Add(1)
	}
	return p, nil
}

func (e *Engine) rename(p *memPlayer, rawHandle string) (string, error) {
	h, err := NormalizeHandle(rawHandle)
	if err != nil {
		return "", err
	}
	p.handle.Store(&h)
	p.lane.edits.Add(1)
	e.queue(p)
	return h, nil
}

// ClickResult is the outcome of one click attempt.
type ClickResult struct {
	State
	// Counted is true when the click raised the score.
	Counted bool
}

// click applies one click attempt by p at now. It takes no lock and allocates nothing.
func (e *Engine) click(p *memPlayer, now time.Time) ClickResult {
	t := now.UnixNano()
	penalty := int64(e.cfg.ThrottlePenalty)

	if p.removed.Load() || p.banned.Load() {
		// A moderator removed or banned p; a socket still holding it counts nothing.
		return ClickResult{State: e.state(p, t)}
	}
	if rule := p.bots.observe(t, e.cfg.Bots); rule != 0 {
		e.flagged(p)
	}
	if e.cfg.Bots.Action == BotThrottle && p.bots.flaggedAt.Load() != 0 {
		// A flagged bot stays throttled, as if it broke the limit at every attempt,
		// until a moderator clears it: one click per penalty counts, and the page shows
		// the throttle's notice.
		if prev := p.violation.Swap(t); prev == 0 || t-prev >= penalty {
			p.nextAllowed.Store(t + penalty)
		}
	}

	if attempts := e.countAttempt(p, t); attempts > e.cfg.ThrottleLimit {
		if prev := p.violation.Swap(t); prev == 0 || t-prev >= penalty {
			p.nextAllowed.Store(t + penalty) // just became throttled
		}
		p.lane.refused.Add(1)
		return ClickResult{State: e.state(p, t)}
	}
	if v := p.violation.Load(); v != 0 && t-v < penalty {
		// Throttled: one click per penalty period counts, whoever wins the CAS.
		next := p.nextAllowed.Load()
		if t < next || !p.nextAllowed.CompareAndSwap(next, t+penalty) {
			p.lane.refused.Add(1)
			return ClickResult{State: e.state(p, t)}
		}
	}

	score := e.count(p, t)
	p.total.Add(1)
	for {
		best := p.best.Load()
		if score <= best {
			break
		}
		if p.best.CompareAndSwap(best, score) {
			p.bestAt.Store(t)
			if score >= e.threshold.Load() {
				e.queue(p)
			} else {
				e.queueRank(p)
			}
			break
		}
	}
	// Counted last, so that whoever sees the new Version (the snapshotter) also sees
	// the new best and bestAt.
	p.lane.clicks.Add(1)
	return ClickResult{State: e.state(p, t), Counted: true}
}

// resetting is the score while one tab applies an idle reset: the other tabs wait the
// few nanoseconds it lasts rather than count on the score from before the reset.
const resetting = -1

// count adds one counted click at t to p's score and returns the new score. The idle
// reset is applied lazily by the first click after it was due: that click claims the
// score by CAS, so no other tab counts on the old score meanwhile, and the best never
// exceeds the clicks counted since the reset.
func (e *Engine) count(p *memPlayer, t int64) int64 {
	idle := int64(e.cfg.IdleReset)
	for spins := 0; ; spins++ {
		s := p.score.Load()
		if s == resetting {
			if spins > 8 {
				runtime.Gosched()
			}
			continue
		}
		if last := p.lastClick.Load(); last != 0 && t-last >= idle {
			if !p.score.CompareAndSwap(s, resetting) {
				continue
			}
			advance(&p.lastClick, t)
			p.score.Store(1)
			return 1
		}
		if p.score.CompareAndSwap(s, s+1) {
			advance(&p.lastClick, t)
			return s + 1
		}
	}
}

// advance moves a to t unless it holds a later time already: tabs' clicks may land
// slightly out of order.
func advance(a *atomic.Int64, t int64) {
	for {
		v := a.Load()
		if v >= t || a.CompareAndSwap(v, t) {
			return
		}
	}
}

// countAttempt records one attempt in p's current throttle window and returns how many
// attempts the window holds now.
func (e *Engine) countAttempt(p *memPlayer, t int64) int {
	return int(countInWindow(&p.window, t, e.cfg.ThrottleWindow))
}

// countInWindow adds one attempt at t to the window packed in w (its start in ms and
// its count) and returns the count. The window starts at the first attempt after the
// previous one ended; an attempt stamped a little before its start (another tab's,
// read a moment earlier) counts in it rather than starting a new one.
func countInWindow(w *atomic.Uint64, t int64, window time.Duration) uint64 {
	ms := uint64(t / int64(time.Millisecond))
	windowMs := uint64(window / time.Millisecond)
	for {
		old := w.Load()
		start, n := old>>attemptBits, old&attemptMask
		if ms >= start && ms-start >= windowMs {
			start, n = ms, 0
		}
		if n < attemptMask {
			n++
		}
		if w.CompareAndSwap(old, start<<attemptBits|n) {
			return n
		}
	}
}

func (e *Engine) state(p *memPlayer, t int64) State { return e.cfg.StateOf(p.view(), t) }

// attach records that p opened a socket; detach that one closed. Online counts the
// players with at least one open socket.
//
// attach reports whether p is a returning player: one who comes online after at least
// ReturnAfter without a click or an open socket.
func (e *Engine) attach(p *memPlayer, now time.Time) (returning bool) {
	if p.conns.Add(1) != 1 {
		return false
	}
	online := e.online.Add(1)
	for {
		peak := e.peakOnline.Load()
		if online <= peak || e.peakOnline.CompareAndSwap(peak, online) {
			break
		}
	}
	last := max(p.lastClick.Load(), p.lastLeft.Load())
	if last != 0 && now.UnixNano()-last >= int64(ReturnAfter) {
		e.returning.Add(1)
		return true
	}
	return false
}

func (e *Engine) detach(p *memPlayer, now time.Time) {
	if p.conns.Add(-1) == 0 {
		p.lastLeft.Store(now.UnixNano())
		e.online.Add(-1)
	}
}

// Stats are the game-wide counters.
type Stats struct {
	// TotalClicks counts every counted click ever, across restarts.
	TotalClicks int64
	// Refused counts click attempts the throttle refused since the start.
	Refused int64
	// Players counts every player ever created and not removed.
	Players int64
	// Online counts players with at least one open socket.
	Online int64
	// PeakOnline is the highest Online since the start.
	PeakOnline int64
	// Returning counts players who came back after ReturnAfter or more away, since the
	// start.
	Returning int64
}

// Stats returns the current counters. It costs a pass over the lanes, not the players.
func (e *Engine) Stats() Stats {
	var clicks, refused int64
	for i := range e.lanes {
		clicks += e.lanes[i].clicks.Load()
		refused += e.lanes[i].refused.Load()
	}
	return Stats{
		TotalClicks: clicks - e.forgotten.Load(),
		Refused:     refused,
		Players:     int64(e.store.Len()),
		Online:      e.online.Load(),
		PeakOnline:  e.peakOnline.Load(),
		Returning:   e.returning.Load(),
	}
}

// version changes whenever anything that a snapshot stores has changed.
func (e *Engine) version() int64 {
	var v int64
	for i := range e.lanes {
		v += e.lanes[i].clicks.Load() + e.lanes[i].edits.Load()
	}
	return v
}

// queue puts p on its lane's changed list unless it is there already. The list is an
// intrusive Treiber stack: pushes race with each other through a CAS, and the tick
// takes the whole list at once with a swap, so there is no ABA hazard.
func (e *Engine) queue(p *memPlayer) {
	if !p.queued.CompareAndSwap(false, true) {
		return
	}
	l := p.lane
	for {
		head := l.changed.Load()
		p.next = head
		if l.changed.CompareAndSwap(head, p) {
			return
		}
	}
}

// queueRank puts p on its lane's ranked list unless it is there already, as queue
// does for the changed list. The Load first keeps a player who clicks on at its best
// from writing the flag's cache line at every click.
func (e *Engine) queueRank(p *memPlayer) {
	if p.rqueued.Load() || !p.rqueued.CompareAndSwap(false, true) {
		return
	}
	l := p.lane
	for {
		head := l.ranked.Load()
		p.rnext = head
		if l.ranked.CompareAndSwap(head, p) {
			return
		}
	}
}

// records calls fn with a copy of every player's stored fields as of now, the idle reset
// applied, until fn returns an error, which it returns. Clicks go on meanwhile.
func (e *Engine) records(now time.Time, fn func(Record) error) error {
	t := now.UnixNano()
	var err error
	e.store.Range(func(p *memPlayer) bool {
		err = fn(e.record(p, t))
		return err == nil
	})
	return err
}

// recordsOf calls fn with a copy of the stored fields of every player of shard i as
// of t (Unix ns), until fn returns an error, which it returns.
//
// The players of a shard lie all over the heap, and each record reads three places:
// the player, the box of its handle and the handle's bytes. Read one after another,
// those are three cache misses in a row per player. So the shard is taken in batches:
// first every player of the batch is touched, then every handle box, then every
// handle's bytes, each step's loads independent of each other so the processor has
// them all in flight at once, and only then are the records copied, from the cache.
func (e *Engine) recordsOf(i int, t int64, fn func(Record) error) error {
	const batch = 32
	var (
		ps    [batch]*memPlayer
		boxes [batch]*string
		hs    [batch]string
		touch byte
	)
	slots := e.store.shards[i].table.Load().slots
	for j := 0; j < len(slots); {
		n := 0
		for ; j < len(slots) && n < batch; j++ {
			if p := slots[j].Load(); p != nil {
				ps[n] = p
				n++
			}
		}
		for k := 0; k < n; k++ {
			boxes[k] = ps[k].handle.Load()
		}
		for k := 0; k < n; k++ {
			hs[k] = *boxes[k]
		}
		for k := 0; k < n; k++ {
			if len(hs[k]) > 0 {
				touch += hs[k][0]
			}
		}
		for k := 0; k < n; k++ {
			if err := fn(e.recordWith(ps[k], hs[k], t)); err != nil {
				return err
			}
		}
	}
	runtime.KeepAlive(touch)
	return nil
}

// partsAt is records as of now cut into the store's shards, for WriteSnapshot to
// format at once.
func (e *Engine) partsAt(now time.Time) (int, func(int, func(Record) error) error) {
	t := now.UnixNano()
	return shardCount, func(i int, fn func(Record) error) error { return e.recordsOf(i, t, fn) }
}

// record copies p's stored fields as of t, the idle reset applied.
func (e *Engine) record(p *memPlayer, t int64) Record { return e.recordWith(p, p.Handle(), t) }

// recordWith is record with p's handle already read.
func (e *Engine) recordWith(p *memPlayer, handle string, t int64) Record {
	r := Record{
		ID:        p.id,
		Handle:    handle,
		Score:     max(p.score.Load(), 0),
		Best:      p.best.Load(),
		Total:     p.total.Load(),
		LastClick: fromUnixNano(p.lastClick.Load()),
		BestAt:    fromUnixNano(p.bestAt.Load()),
	}
	if last := unixNano(r.LastClick); last != 0 && t-last >= int64(e.cfg.IdleReset) {
		r.Score = 0
	}
	// The fields are read one by one while clicks go on, so a click in flight may show
	// in one and not yet in another. Keep the record within the invariants Load checks
	// (score <= best <= total); the click bumps Version only once it is complete, so
	// the next snapshot has the exact numbers.
	r.Best = min(r.Best, r.Total)
	r.Score = min(r.Score, r.Best)
	return r
}

// Load adds a player from a snapshot record. It refuses duplicate ids, invalid handles
// and numbers that break the rules' invariants (CheckRecord). Call Rebuild once all
// are loaded.
func (e *Engine) Load(r Record) error {
	if err := CheckRecord(r); err != nil {
		return err
	}
	return e.load(e.newPlayer(r.ID, r.Handle), r)
}

// loader loads checked records into an engine, taking the players from slabs, so that
// a million loaded players are a thousand allocations and not a million. A slab lives as
// long as any of its players does. Each goroutine loading needs its own loader.
type loader struct {
	e    *Engine
	now  int64
	bans map[uuid.UUID]Ban
	slab []memPlayer
	// top is the board of the players this loader loaded, kept as scanTop keeps it,
	// so that the board after a load needs no pass over every player.
	top []entry
	// clicks are the loaded players' clicks by lane, added to the lanes by flush: two
	// loaders adding to the lanes' shared counters row by row would pass their cache
	// lines back and forth a million times.
	clicks [laneCount]int64
}

// flush adds the clicks of the players loaded so far to the engine's counters.
func (l *loader) flush() {
	for i, n := range l.clicks {
		l.e.lanes[i].clicks.Add(n)
		l.clicks[i] = 0
	}
}

const loadSlab = 1024

func (e *Engine) newLoader() *loader {
	return &loader{e: e, now: e.now().UnixNano(), bans: e.bans()}
}

// load adds the player of r, which CheckRecord accepted.
func (l *loader) load(r Record) error {
	if len(l.slab) == 0 {
		l.slab = make([]memPlayer, loadSlab)
	}
	p := &l.slab[0]
	l.e.initPlayer(p, r.ID, r.Handle, l.now, l.bans)
	if err := l.e.add(p, r); err != nil {
		// p is in no table: clear it and keep its place for the next record.
		*p = memPlayer{}
		return err
	}
	l.clicks[hash(r.ID)&(laneCount-1)] += r.Total
	l.slab = l.slab[1:]
	l.top = l.e.board.offer(l.top, p)
	return nil
}

// load fills the new player p from the checked record r and adds it, its clicks
// counted.
func (e *Engine) load(p *memPlayer, r Record) error {
	if err := e.add(p, r); err != nil {
		return err
	}
	// Counting the loaded clicks keeps the game's total right across restarts.
	p.lane.clicks.Add(r.Total)
	return nil
}

// add fills the new player p from the checked record r and adds it to the store.
func (e *Engine) add(p *memPlayer, r Record) error {
	p.score.Store(r.Score)
	p.best.Store(r.Best)
	p.total.Store(r.Total)
	p.lastClick.Store(unixNano(r.LastClick))
	p.bestAt.Store(unixNano(r.BestAt))
	p.locked.Store(e.lockedAtLoad[r.ID])
	if _, added := e.store.Add(p); !added {
		return fmt.Errorf("duplicate id %s", r.ID)
	}
	return nil
}

// CheckRecord reports what is wrong with a record from a snapshot: a handle that is
// invalid or not in normal form, or numbers that break the rules' invariants
// (0 <= score <= best <= total).
func CheckRecord(r Record) error {
	h, err := NormalizeHandle(r.Handle)
	if err != nil {
		return fmt.Errorf("handle %q: %w", r.Handle, err)
	}
	if h != r.Handle {
		return fmt.Errorf("handle %q is not in normal form (want %q)", r.Handle, h)
	}
	switch {
	case r.Score < 0 || r.Best < 0 || r.Total < 0:
		return fmt.Errorf("negative score, best or total")
	case r.Score > r.Best:
		return fmt.Errorf("score %d is above best %d", r.Score, r.Best)
	case r.Best > r.Total:
		return fmt.Errorf("best %d is above total %d", r.Best, r.Total)
	}
	return nil
}
