package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/game/redisgame"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// clickConfig is what the clicks mode measures.
type clickConfig struct {
	addr     string
	players  int
	clients  string // comma separated: rueidis, goredis
	conc     string // comma separated counts of concurrent callers
	duration time.Duration
	count    int  // rounds, each measuring every client at every concurrency
	cluster  bool // addr is a Redis Cluster node: set by runClicks
}

// warmUp runs before each measured span: it lets connections be dialled, the script
// be cached by SHA and the runtime settle, none of which a long-running node pays per
// click.
const warmUp = time.Second

// clickPlayer is one player's arguments to the click script, built once so that the
// measured loop spends its time in the client and in Redis, not in formatting.
type clickPlayer struct {
	keys    []string
	args    []string // ARGV for rueidis
	anyArgs []any    // the same ARGV for go-redis
}

// clicker runs the click script once for p and returns the reply's status: 1 counted,
// 0 refused by the throttle, -1 no such player.
type clicker func(ctx context.Context, p *clickPlayer) (int64, error)

// clickResult is what one client at one concurrency did in the measured span.
type clickResult struct {
	elapsed time.Duration
	lat     histogram
	refused uint64
}

// makePlayers builds n players with ids from a fixed seed, so that every run spreads
// them over the same partitions.
func makePlayers(n int) ([]clickPlayer, error) {
	rules := game.DefaultConfig()
	ids := rand.NewChaCha8([32]byte{'c', 't', 'b'})
	ps := make([]clickPlayer, n)
	for i := range ps {
		id, err := uuid.NewRandomFromReader(ids)
		if err != nil {
			return nil, err
		}
		keys, _ := redisgame.ClickKeys(id)
		// The empty clock makes the script read Redis's TIME, as in production.
		args := redisgame.ClickArgs(rules, id, "")
		anyArgs := make([]any, len(args))
		for j, a := range args {
			anyArgs[j] = a
		}
		ps[i] = clickPlayer{keys: keys, args: args, anyArgs: anyArgs}
	}
	return ps, nil
}

// resetPlayers empties the database and creates the players anew, each a hash with
// just a handle. Every run starts from the same state: a run that throttled players
// would otherwise hand the next one players on the script's cheaper refused path.
func resetPlayers(ctx context.Context, rdb redis.UniversalClient, keys []string) error {
	flush := func(ctx context.Context, c *redis.Client) error { return c.FlushDB(ctx).Err() }
	if err := eachPrimary(ctx, rdb, flush); err != nil {
		return err
	}
	const batch = 1000 // bounds one pipeline's buffers
	for start := 0; start < len(keys); start += batch {
		pipe := rdb.Pipeline()
		for i := start; i < min(start+batch, len(keys)); i++ {
			pipe.HSet(ctx, keys[i], "h", "p"+strconv.Itoa(i))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("create players: %w", err)
		}
	}
	return nil
}

// splitList parses a comma separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseConc parses the -conc list.
func parseConc(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-conc %q: %q is not a positive count", s, f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-conc %q: no count", s)
	}
	return out, nil
}

// newClicker connects the named client for conc concurrent callers, to a Redis
// Cluster when cluster is set. close releases its connections.
func newClicker(name, addr string, conc int, cluster bool) (call clicker, close func(), err error) {
	switch name {
	case "rueidis":
		// As the backend builds it (redisgame.Open): no client-side cache, and the
		// default auto-pipelining, which sends the concurrent callers' commands
		// together over a shared connection.
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
		if err != nil {
			return nil, nil, err
		}
		script := rueidis.NewLuaScript(redisgame.ClickScript)
		return func(ctx context.Context, p *clickPlayer) (int64, error) {
			arr, err := script.Exec(ctx, c, p.keys, p.args).ToArray()
			if err != nil {
				return 0, err
			}
			if len(arr) == 0 {
				return 0, errors.New("empty reply from the click script")
			}
			return arr[0].AsInt64()
		}, c.Close, nil
	case "goredis":
		// A go-redis connection carries one command at a time, so a caller without a
		// connection of its own waits in the pool and we would measure the pool, not
		// the client. max(10*GOMAXPROCS, conc) gives every caller a connection, and
		// never fewer than go-redis's own default of 10 per GOMAXPROCS, so the low
		// concurrencies run the client as a default configuration does.
		var rdb redis.UniversalClient = redis.NewClient(&redis.Options{Addr: addr, PoolSize: max(10*runtime.GOMAXPROCS(0), conc)})
		if cluster {
			// The same pool size, per primary.
			rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, PoolSize: max(10*runtime.GOMAXPROCS(0), conc)})
		}
		script := redis.NewScript(redisgame.ClickScript)
		return func(ctx context.Context, p *clickPlayer) (int64, error) {
			arr, err := script.Run(ctx, rdb, p.keys, p.anyArgs...).Slice()
			if err != nil {
				return 0, err
			}
			if len(arr) == 0 {
				return 0, errors.New("empty reply from the click script")
			}
			status, ok := arr[0].(int64)
			if !ok {
				return 0, fmt.Errorf("click script status %T %v, want an integer", arr[0], arr[0])
			}
			return status, nil
		}, func() { rdb.Close() }, nil
	default:
		return nil, nil, fmt.Errorf("-clients: unknown client %q (want rueidis or goredis)", name)
	}
}

// Phases of a measurement, read by every caller after each call.
const (
	phaseWarmUp int32 = iota
	phaseMeasure
	phaseStop
)

// measure runs conc callers that each click random players, one call at a time and
// waiting for each reply as a socket's clicks are, for warm then d. It counts the
// calls that returned within d: completions per unit of time is the rate, whichever
// span each call started in.
func measure(ctx context.Context, call clicker, ps []clickPlayer, conc int, warm, d time.Duration) (clickResult, error) {
	var (
		phase    atomic.Int32
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	hists := make([]histogram, conc) // one per caller: no shared counter in the loop
	refused := make([]uint64, conc)
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			h := &hists[g]
			for phase.Load() != phaseStop {
				p := &ps[rng.IntN(len(ps))]
				start := time.Now()
				status, err := call(ctx, p)
				lat := time.Since(start)
				if err == nil && status < 0 {
					err = errors.New("click script found no player: the players were not created")
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					phase.Store(phaseStop)
					return
				}
				if phase.Load() == phaseMeasure {
					h.record(lat)
					if status == 0 {
						refused[g]++
					}
				}
			}
		}()
	}
	var r clickResult
	time.Sleep(warm)
	if phase.CompareAndSwap(phaseWarmUp, phaseMeasure) {
		start := time.Now()
		time.Sleep(d)
		if phase.CompareAndSwap(phaseMeasure, phaseStop) {
			r.elapsed = time.Since(start)
		}
	}
	wg.Wait()
	if firstErr != nil {
		return clickResult{}, firstErr
	}
	for g := range hists {
		r.lat.merge(&hists[g])
		r.refused += refused[g]
	}
	return r, nil
}

// runClicks measures every client of c at every concurrency of c, c.count times, and
// prints one `go test -bench` line for each run on stdout (repeated lines are samples
// of one benchmark, as with go test -count), and a line for people on stderr.
func runClicks(c clickConfig) error {
	clients := splitList(c.clients)
	if len(clients) == 0 {
		return fmt.Errorf("-clients %q: no client", c.clients)
	}
	concs, err := parseConc(c.conc)
	if err != nil {
		return err
	}
	if c.duration <= 0 {
		return fmt.Errorf("-duration %s: want a positive time", c.duration)
	}
	if c.count < 1 {
		return fmt.Errorf("-count %d: want at least 1", c.count)
	}
	ps, err := makePlayers(c.players)
	if err != nil {
		return err
	}
	keys := make([]string, len(ps))
	for i := range ps {
		keys[i] = ps[i].keys[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute+time.Duration(c.count*len(clients)*len(concs))*(warmUp+2*c.duration))
	defer cancel()
	admin, cluster, err := newAdmin(ctx, c.addr)
	if err != nil {
		return err
	}
	defer admin.Close()
	c.cluster = cluster
	procs := runtime.GOMAXPROCS(0)
	fmt.Fprintf(os.Stderr, "redis: click script, %d players, %s per run after %s warm-up, GOMAXPROCS %d, cluster %v\n", len(ps), c.duration, warmUp, procs, cluster)
	// The clients take turns at each concurrency, in the opposite order every other
	// round, so that a machine whose speed drifts (another process, thermal limits)
	// weighs on both alike rather than on whichever ran last.
	for round := range c.count {
		for _, conc := range concs {
			for i := range clients {
				name := clients[i]
				if round%2 == 1 {
					name = clients[len(clients)-1-i]
				}
				if err := clickRun(ctx, admin, keys, ps, name, c, conc, procs); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// clickRun measures client name with conc callers once, on freshly created players,
// and prints its lines.
func clickRun(ctx context.Context, admin redis.UniversalClient, keys []string, ps []clickPlayer, name string, c clickConfig, conc, procs int) error {
	if err := resetPlayers(ctx, admin, keys); err != nil {
		return err
	}
	resetStat := func(ctx context.Context, c *redis.Client) error { return c.ConfigResetStat(ctx).Err() }
	if err := eachPrimary(ctx, admin, resetStat); err != nil {
		return err
	}
	call, closeClient, err := newClicker(name, c.addr, conc, c.cluster)
	if err != nil {
		return err
	}
	r, err := measure(ctx, call, ps, conc, warmUp, c.duration)
	closeClient()
	if err != nil {
		return fmt.Errorf("%s, %d callers: %w", name, conc, err)
	}
	n := r.lat.n
	if n == 0 {
		return fmt.Errorf("%s, %d callers: no click completed in %s", name, conc, c.duration)
	}
	srv, err := serverStats(ctx, admin)
	if err != nil {
		return err
	}
	rate := float64(n) / r.elapsed.Seconds()
	p50, p99 := r.lat.quantile(0.50), r.lat.quantile(0.99)
	fmt.Printf("BenchmarkRedisClick/client=%s/conc=%d-%d\t%d\t%.1f ns/op\t%.0f clicks/s\t%.1f p50-µs\t%.1f p99-µs\n",
		name, conc, procs, n, float64(r.elapsed.Nanoseconds())/float64(n), rate, micros(p50), micros(p99))
	fmt.Fprintf(os.Stderr, "redis: %-8s %4d callers: %8d clicks in %s, %7.0f clicks/s, p50 %s p99 %s, %.2f%% refused by the throttle; in Redis %.1f µs a script, %.1f scripts a read\n",
		name, conc, n, r.elapsed.Round(time.Millisecond), rate, p50.Round(time.Microsecond), p99.Round(time.Microsecond), 100*float64(r.refused)/float64(n),
		srv.usecPerScript, srv.scriptsPerRead)
	return nil
}

// scriptStats is what Redis says of a run, warm-up included. usecPerScript is the
// time Redis spent in each script: if it changes from one client to the other, the
// machine slowed Redis down (another process took its CPU), not the client.
// scriptsPerRead is how many scripts arrived per read from a socket: what pipelining
// saves Redis's one thread in system calls.
type scriptStats struct {
	usecPerScript  float64
	scriptsPerRead float64
}

// serverStats reads the scriptStats of the run since the last CONFIG RESETSTAT, over
// every primary of a cluster.
func serverStats(ctx context.Context, rdb redis.UniversalClient) (scriptStats, error) {
	var calls, usec, reads float64
	err := eachPrimary(ctx, rdb, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "commandstats", "stats").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(info, "\n") {
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
				for _, kv := range strings.Split(v, ",") {
					k, x, _ := strings.Cut(kv, "=")
					switch k {
					case "calls":
						n, _ := strconv.ParseFloat(x, 64)
						calls += n
					case "usec":
						n, _ := strconv.ParseFloat(x, 64)
						usec += n
					}
				}
			} else if v, ok := strings.CutPrefix(line, "total_reads_processed:"); ok {
				n, _ := strconv.ParseFloat(v, 64)
				reads += n
			}
		}
		return nil
	})
	if err != nil {
		return scriptStats{}, err
	}
	var st scriptStats
	if calls > 0 {
		st.usecPerScript = usec / calls
	}
	if reads > 0 {
		st.scriptsPerRead = calls / reads
	}
	return st, nil
}

// micros is d in microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
