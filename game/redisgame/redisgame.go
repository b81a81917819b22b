// Package redisgame is the game on Redis: a game.Backend that any number of
// clickthebutton processes share, on one Redis server or a Redis Cluster. The rules
// run inside Redis as scripts (scripts.go), one atomic step per click whichever node
// sent it; each node keeps a copy of its own players' fields and of the leaderboard,
// refreshed every tick, so that the broadcast loop never waits on the network.
package redisgame

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// Options configure a Redis backend.
type Options struct {
	// URL is redis://[user:password@]host:port[/db], or rediss:// for TLS. For a
	// Redis Cluster give any node; more seed nodes go in ?addr=host:port parameters.
	URL string
	// Rules are the game's rules. Rules.Now, when set, is the clock of the rules (for
	// tests); otherwise every node uses the Redis server's TIME.
	Rules game.Config
	// Log receives the backend's own lines; nil means slog.Default().
	Log *slog.Logger
	// OpTimeout bounds every call to Redis. 0 means DefaultOpTimeout.
	OpTimeout time.Duration
	// RankSync is how often a Tick copies the players whose best changed on this node
	// into the game-wide rank set: a player clicking ten times a second costs one copy
	// a second, not ten. While Ranks is called (it copies them too), a Tick copies only
	// when Ranks has not for twice as long. 0 means DefaultRankSync; negative, at every
	// Tick, before it reads the board, and a failed copy fails the Tick (tests);
	// otherwise the copy runs in the background and a failed one is retried.
	RankSync time.Duration
	// RankRepair is how often Ranks reads a connected player's entry from its
	// partition rather than trusting the game-wide rank set: the set misses at most a
	// second of a node that died between a click and its sync, until then. 0 means
	// DefaultRankRepair; negative, at every Ranks (tests).
	RankRepair time.Duration
	// Heartbeat is how often the node reports its online count. A node that misses
	// three leaves the game's online count. 0 means DefaultHeartbeat.
	Heartbeat time.Duration
}

// Defaults of Options.
const (
	DefaultOpTimeout = 2 * time.Second
	DefaultHeartbeat = time.Second
	DefaultRankSync  = time.Second
	// DefaultRankRepair: a repair costs Redis about three times a rank read.
	DefaultRankRepair = 30 * time.Second
)

// Backend is one node's view of a game kept in Redis. Its methods are safe for
// concurrent use.
type Backend struct {
	cfg  game.Config
	opts Options
	log  *slog.Logger
	c    rueidis.Client
	// bulk is a second client, its own connections, for the rank work (syncs and
	// reads of hundreds of players a script): on c a click would queue behind a whole
	// batch of them on the wire, on its own it waits at most for the script Redis is
	// running.
	bulk rueidis.Client
	s    *scripts
	node string // this process, in Redis's list of live nodes
	addr string // for messages: the URL without its password

	parts [partitions]partKeys
	reg   *registry

	// The rules as script arguments, formatted once.
	arg args

	// offset is the Redis clock minus this node's, in ns, from the latest reply: the
	// node's own view of idle resets and throttles then runs on the game's clock.
	offset atomic.Int64

	watch atomic.Pointer[func(game.Event)]

	rankDirty rankDirty    // rank.go
	lastSync  atomic.Int64 // when this node's changed players were last synced, Unix ns
	// rankedSync is set when Ranks did that sync: the Tick then leaves the syncs to
	// the refreshes, which read those players anyway, and takes over only when they
	// stop (no socket on this node asks for its rank).
	rankedSync atomic.Bool

	tickMu sync.Mutex // one Tick at a time; guards pub and tops
	pub    game.Publisher
	tops   [partitions]partTop
	board  atomic.Pointer[game.Update] // the last published board, for readers

	counters atomic.Pointer[game.Stats] // from the last Tick
	online   onlineCount

	changedMu sync.Mutex
	changed   map[uuid.UUID]struct{} // players with sockets elsewhere who changed here

	shared sharedDeadline // op's deadline for calls that cannot be cancelled

	refresh chan []uuid.UUID // players whose copy must be read again
	flush   chan struct{}    // a Tick asks flushLoop for a rank sync
	stop    context.CancelFunc
	done    sync.WaitGroup
}

var _ game.Backend = (*Backend)(nil)

// Open connects to the Redis at opts.URL, checks that it holds a game of this layout
// (or nothing yet), builds the leaderboard and starts the node's background work:
// the heartbeat and the event subscription. Close stops it.
func Open(ctx context.Context, opts Options) (*Backend, error) {
	if err := opts.Rules.Validate(); err != nil {
		return nil, err
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = DefaultOpTimeout
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.RankSync == 0 {
		opts.RankSync = DefaultRankSync
	}
	if opts.RankRepair == 0 {
		opts.RankRepair = DefaultRankRepair
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	addr := redact(opts.URL)
	copt, err := rueidis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: %w (want redis://[user:password@]host:port[/db] or rediss://...)", addr, err)
	}
	copt.DisableCache = true // every read the game makes must see the latest write
	copt.ConnWriteTimeout = opts.OpTimeout
	copt.Dialer.Timeout = opts.OpTimeout
	copt.ClientName = "clickthebutton"
	c, err := rueidis.NewClient(copt)
	if err != nil {
		return nil, fmt.Errorf("redis at %s (%s) is unreachable: %w", addr, strings.Join(copt.InitAddress, ", "), err)
	}
	copt.ClientName = "clickthebutton-ranks"
	bulk, err := rueidis.NewClient(copt)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("redis at %s (%s) is unreachable: %w", addr, strings.Join(copt.InitAddress, ", "), err)
	}
	b := &Backend{
		cfg: opts.Rules, opts: opts, log: log, c: c, bulk: bulk, s: newScripts(), addr: addr,
		node:    newNodeID(),
		reg:     newRegistry(),
		changed: make(map[uuid.UUID]struct{}),
		refresh: make(chan []uuid.UUID, 64),
		flush:   make(chan struct{}, 1),
		arg:     ruleArgs(opts.Rules),
	}
	for i := range b.parts {
		b.parts[i] = newPartKeys(i)
	}
	for i := range b.tops {
		b.tops[i].ver = -1
	}
	b.counters.Store(&game.Stats{})
	if err := b.checkServer(ctx); err != nil {
		b.closeClients()
		return nil, err
	}
	if err := b.rebuildRanks(ctx); err != nil {
		b.closeClients()
		return nil, b.unavailable("build the rank set", err)
	}
	if err := b.beat(ctx); err != nil {
		b.closeClients()
		return nil, err
	}
	if _, _, err := b.Tick(ctx); err != nil {
		b.closeClients()
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.done.Add(4)
	go func() { defer b.done.Done(); b.heartbeatLoop(bg) }()
	go func() { defer b.done.Done(); b.subscribe(bg) }()
	go func() { defer b.done.Done(); b.refreshLoop(bg) }()
	go func() { defer b.done.Done(); b.flushLoop(bg) }()
	return b, nil
}

// checkServer makes sure the server can run the scripts and holds a game of this
// key layout, or none yet.
func (b *Backend) checkServer(ctx context.Context) error {
	ctx, cancel := b.op(ctx)
	defer cancel()
	info, err := b.c.Do(ctx, b.c.B().Info().Section("server").Build()).ToString()
	if err != nil {
		return fmt.Errorf("redis at %s is unreachable: %w", b.addr, err)
	}
	if v := infoField(info, "redis_version"); !versionAtLeast(v, 6, 2) {
		return fmt.Errorf("redis at %s is version %s; the game needs Redis 6.2 or later", b.addr, v)
	}
	meta := b.c.B().Hsetnx().Key(keyMeta).Field("layout").Value(layoutVersion).Build()
	parts := b.c.B().Hsetnx().Key(keyMeta).Field("partitions").Value(strconv.Itoa(partitions)).Build()
	read := b.c.B().Hmget().Key(keyMeta).Field("layout", "partitions").Build()
	res := b.c.DoMulti(ctx, meta, parts, read)
	got, err := res[2].AsStrSlice()
	if err != nil {
		return fmt.Errorf("redis at %s: read the game's layout: %w", b.addr, err)
	}
	if got[0] != layoutVersion || got[1] != strconv.Itoa(partitions) {
		return fmt.Errorf("redis at %s holds a game of key layout %s with %s partitions; this binary uses layout %s with %d: export it with the binary that wrote it",
			b.addr, got[0], got[1], layoutVersion, partitions)
	}
	return nil
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (ma > major || ma == major && mi >= minor)
}

func newNodeID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Node returns this process's name in the game's list of live nodes.
func (b *Backend) Node() string { return b.node }

// Close stops the node's background work, takes its players out of the online count
// and closes the connections. Calls after Close fail.
func (b *Backend) Close() error {
	if b.stop != nil {
		b.stop()
		b.done.Wait()
	}
	ctx, cancel := b.op(context.Background())
	defer cancel()
	b.s.leave.Exec(ctx, b.c, []string{keyNodes, keyOnline}, []string{b.node})
	b.closeClients()
	return nil
}

func (b *Backend) closeClients() {
	b.c.Close()
	b.bulk.Close()
}

// op bounds one call to Redis by OpTimeout. A caller that cannot cancel (a click
// comes with context.Background) shares one deadline with the others instead of
// paying for a timer of its own: see sharedDeadline.
func (b *Backend) op(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Done() != nil {
		return context.WithTimeout(ctx, b.opts.OpTimeout)
	}
	return b.shared.get(time.Now(), b.opts.OpTimeout), noCancel
}

func noCancel() {}

// sharedDeadline hands out one context with a deadline at least timeout away, made
// anew each quarter of timeout: calls get between timeout and 1.25 timeout. A context
// that expires cancels itself, so one replaced is never cancelled early, while calls
// may still wait on it.
type sharedDeadline struct {
	cur atomic.Pointer[deadlineCtx]
}

type deadlineCtx struct {
	ctx    context.Context
	cancel context.CancelFunc // for vet's sake: the context's own timer ends it
	renew  time.Time          // when the next call makes a new one
}

// get returns the context to use at now.
func (s *sharedDeadline) get(now time.Time, timeout time.Duration) context.Context {
	d := s.cur.Load()
	if d != nil && now.Before(d.renew) {
		return d.ctx
	}
	n := &deadlineCtx{renew: now.Add(timeout / 4)}
	n.ctx, n.cancel = context.WithDeadline(context.Background(), now.Add(timeout+timeout/4))
	if s.cur.CompareAndSwap(d, n) {
		return n.ctx
	}
	n.cancel() // another call made one first: use it
	return s.cur.Load().ctx
}

// unavailable wraps an error of a call to Redis: game.ErrUnavailable for everything
// but a script's own error, which is a bug, not an outage.
func (b *Backend) unavailable(op string, err error) error {
	// A script's runtime error names the script's line ("@user_script:33", or
	// "Error running script" before Redis 7).
	if re, ok := rueidis.IsRedisErr(err); ok && (strings.Contains(re.Error(), "@user_script") || strings.Contains(re.Error(), "Error running script")) {
		return fmt.Errorf("redis %s: %w", op, err)
	}
	return fmt.Errorf("%w: redis at %s: %s: %v", game.ErrUnavailable, b.addr, op, err)
}

// nowArg is the clock argument of the scripts: "" lets Redis use its TIME.
func (b *Backend) nowArg() string {
	if b.cfg.Now == nil {
		return ""
	}
	return strconv.FormatInt(b.cfg.Now().UnixMicro(), 10)
}

// now is the game's clock as this node sees it, in Unix ns.
func (b *Backend) now() int64 {
	if b.cfg.Now != nil {
		return b.cfg.Now().UnixNano()
	}
	return time.Now().UnixNano() + b.offset.Load()
}

// observeClock notes the Redis clock of a reply (µs).
func (b *Backend) observeClock(redisMicros int64) {
	if b.cfg.Now == nil && redisMicros > 0 {
		b.offset.Store(redisMicros*1000 - time.Now().UnixNano())
	}
}

// Config implements game.Backend.
func (b *Backend) Config() game.Config { return b.cfg }

// Ping implements game.Backend.
func (b *Backend) Ping(ctx context.Context) error {
	ctx, cancel := b.op(ctx)
	defer cancel()
	if err := b.c.Do(ctx, b.c.B().Ping().Build()).Error(); err != nil {
		return b.unavailable("ping", err)
	}
	return nil
}

// Watch implements game.Backend.
func (b *Backend) Watch(fn func(game.Event)) { b.watch.Store(&fn) }

func (b *Backend) emit(ev game.Event) {
	if fn := b.watch.Load(); fn != nil {
		(*fn)(ev)
	}
}

// Secret returns the key that signs the players' cookies, shared by every node of the
// game: the first node to start generates it and stores it in Redis, and every other
// node reads it from there. When want is not empty it is stored unless Redis holds a
// key already, in which case the one in Redis wins.
func (b *Backend) Secret(ctx context.Context, want []byte) ([]byte, error) {
	if len(want) == 0 {
		want = make([]byte, 32)
		rand.Read(want)
	}
	ctx, cancel := b.op(ctx)
	defer cancel()
	set := b.c.B().Set().Key(keySecret).Value(hex.EncodeToString(want)).Nx().Build()
	get := b.c.B().Get().Key(keySecret).Build()
	res := b.c.DoMulti(ctx, set, get)
	if err := res[0].Error(); err != nil && !rueidis.IsRedisNil(err) {
		return nil, b.unavailable("store the cookie key", err)
	}
	s, err := res[1].ToString()
	if err != nil {
		return nil, b.unavailable("read the cookie key", err)
	}
	key, err := hex.DecodeString(s)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("redis at %s: %s is not a hex key of at least 16 bytes; delete it to make a new one (this logs every player out)", b.addr, keySecret)
	}
	return key, nil
}
