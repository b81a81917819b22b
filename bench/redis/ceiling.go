package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/game/redisgame"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// ceilingConfig is what the ceiling mode sets up and, with run, measures.
type ceilingConfig struct {
	addr     string
	players  int
	conns    int // redis-benchmark -c
	pipeline int // redis-benchmark -P
	requests int // redis-benchmark -n
	count    int // runs of redis-benchmark, with run
	run      bool
}

// The ceiling's keys. redis-benchmark puts a random 12-digit number in place of
// __rand_int__, and cannot make the partition part of a key follow it, so the players
// all live in one partition: still the script's full path (the board and counters it
// updates), on one board of every player rather than 64 smaller ones. The keys are
// those of one real player of that partition with its id replaced, so they follow the
// backend's names; every request passes that player's id as the id argument, which
// the script only looks up in the bans and writes to the suspects.
func ceilingKeys() (template string, rest []string, id uuid.UUID) {
	for i := uint64(0); ; i++ {
		var u uuid.UUID
		binary.BigEndian.PutUint64(u[8:], i)
		keys, _ := redisgame.ClickKeys(u)
		if strings.HasPrefix(keys[1], "ctb:{p00}:") {
			return strings.TrimSuffix(keys[0], u.String()) + "__rand_int__", keys[1:], u
		}
	}
}

// ceilingKey is the key redis-benchmark makes of the random number i.
func ceilingKey(i int) string {
	template, _, _ := ceilingKeys()
	return strings.Replace(template, "__rand_int__", fmt.Sprintf("%012d", i), 1)
}

// benchmarkArgs are redis-benchmark's arguments to run the click script loaded as
// sha against host:port, on random players below c.players.
func benchmarkArgs(host, port, sha string, c ceilingConfig) []string {
	args := []string{
		"-h", host, "-p", port,
		"-c", strconv.Itoa(c.conns), "-P", strconv.Itoa(c.pipeline),
		"-n", strconv.Itoa(c.requests), "-r", strconv.Itoa(c.players),
		"--csv",
	}
	template, rest, id := ceilingKeys()
	args = append(args, "EVALSHA", sha, strconv.Itoa(1+len(rest)), template)
	args = append(args, rest...)
	// "": the script reads Redis's TIME.
	return append(args, redisgame.ClickArgs(game.DefaultConfig(), id, "")...)
}

// safeWord matches the arguments a POSIX shell takes as they are.
var safeWord = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+-]+$`)

// shellLine is args as one line a POSIX shell runs as given.
func shellLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if safeWord.MatchString(a) {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// benchmarkFigure is one row of redis-benchmark's --csv output.
type benchmarkFigure struct {
	rps      float64
	p50, p99 time.Duration
}

// parseBenchmarkCSV reads the first result row of redis-benchmark --csv output, by
// the header's column names so that a column added by another version does no harm.
func parseBenchmarkCSV(out []byte) (benchmarkFigure, error) {
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		return benchmarkFigure{}, fmt.Errorf("redis-benchmark output: %w", err)
	}
	if len(rows) < 2 {
		return benchmarkFigure{}, fmt.Errorf("redis-benchmark output: no result row in %q", out)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	num := func(name string) (float64, error) {
		i, ok := col[name]
		if !ok || i >= len(rows[1]) {
			return 0, fmt.Errorf("redis-benchmark output: no %q column", name)
		}
		return strconv.ParseFloat(rows[1][i], 64)
	}
	var f benchmarkFigure
	var p50, p99 float64
	if f.rps, err = num("rps"); err != nil {
		return f, err
	}
	if p50, err = num("p50_latency_ms"); err != nil {
		return f, err
	}
	if p99, err = num("p99_latency_ms"); err != nil {
		return f, err
	}
	if f.rps <= 0 {
		return f, fmt.Errorf("redis-benchmark output: rps %v", f.rps)
	}
	f.p50 = time.Duration(p50 * float64(time.Millisecond))
	f.p99 = time.Duration(p99 * float64(time.Millisecond))
	return f, nil
}

// runCeiling creates the players redis-benchmark's keys name, loads the click script
// and prints the redis-benchmark command that drives it. With c.run it runs that
// command too, c.count times, and prints each figure as a `go test -bench` line.
func runCeiling(c ceilingConfig) error {
	if c.conns < 1 || c.pipeline < 1 || c.requests < 1 || c.count < 1 {
		return fmt.Errorf("-bench-clients %d, -bench-pipeline %d, -requests %d, -count %d: want positive counts",
			c.conns, c.pipeline, c.requests, c.count)
	}
	host, port, _ := net.SplitHostPort(c.addr) // checked by main
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	admin := redis.NewClient(&redis.Options{Addr: c.addr, PoolSize: 1})
	defer admin.Close()
	keys := make([]string, c.players)
	for i := range keys {
		keys[i] = ceilingKey(i)
	}
	if err := resetPlayers(ctx, admin, keys); err != nil {
		return err
	}
	// SCRIPT LOAD, not a first EVAL: redis-benchmark sends the same EVALSHA every time
	// and cannot fall back to the source.
	sha, err := admin.ScriptLoad(ctx, redisgame.ClickScript).Result()
	if err != nil {
		return fmt.Errorf("load the click script: %w", err)
	}
	args := benchmarkArgs(host, port, sha, c)
	line := "redis-benchmark " + shellLine(args)
	if !c.run {
		fmt.Println(line)
		return nil
	}
	fmt.Fprintln(os.Stderr, "redis: running:", line)
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		// As bench/lib.sh does when redis-server is missing: say so and go on, so a
		// harness without it still reports the rest.
		fmt.Fprintln(os.Stderr, "redis: redis-benchmark not in PATH: skipping the ceiling (apt-get install -y redis-tools)")
		return nil
	}
	for round := range c.count {
		if round > 0 {
			// Fresh players, so that no round inherits another's throttled ones.
			if err := resetPlayers(ctx, admin, keys); err != nil {
				return err
			}
		}
		if err := ceilingRun(ctx, admin, args, c); err != nil {
			return err
		}
	}
	return nil
}

// ceilingRun runs redis-benchmark once with args and prints its figure.
func ceilingRun(ctx context.Context, admin *redis.Client, args []string, c ceilingConfig) error {
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "redis-benchmark", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("redis-benchmark: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	f, err := parseBenchmarkCSV(out)
	if err != nil {
		return err
	}
	// redis-benchmark does not show error replies: the partition's counters tell
	// whether every request ran the script's full path (counted or refused).
	done, refused, err := ceilingCounts(ctx, admin)
	if err != nil {
		return err
	}
	if done != int64(c.requests) {
		return fmt.Errorf("redis-benchmark sent %d requests but the script counted %d clicks: some failed", c.requests, done)
	}
	srv, err := serverStats(ctx, admin)
	if err != nil {
		return err
	}
	// Its latencies are of requests sent -P at a time, not comparable with the
	// clicks mode's one call at a time; they are printed for completeness.
	fmt.Printf("BenchmarkRedisCeiling-%d\t%d\t%.1f ns/op\t%.0f clicks/s\t%.1f p50-µs\t%.1f p99-µs\n",
		runtime.GOMAXPROCS(0), c.requests, 1e9/f.rps, f.rps, micros(f.p50), micros(f.p99))
	fmt.Fprintf(os.Stderr, "redis: ceiling %.0f clicks/s (redis-benchmark -c %d -P %d, %d players), p50 %s p99 %s per pipelined request, %.2f%% refused by the throttle; in Redis %.1f µs a script, %.1f scripts a read\n",
		f.rps, c.conns, c.pipeline, c.players, f.p50.Round(time.Microsecond), f.p99.Round(time.Microsecond), 100*float64(refused)/float64(done),
		srv.usecPerScript, srv.scriptsPerRead)
	return nil
}

// ceilingCounts reads the clicks the script applied to the ceiling's partition, all
// of them (counted and refused), and those refused.
func ceilingCounts(ctx context.Context, rdb *redis.Client) (done, refused int64, err error) {
	_, rest, _ := ceilingKeys()
	v, err := rdb.HMGet(ctx, rest[0], "clicks", "refused").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("read the ceiling's counters: %w", err)
	}
	var n [2]int64
	for i, x := range v {
		if x == nil {
			continue // the script never took that path
		}
		s, ok := x.(string)
		if !ok {
			return 0, 0, errors.New("read the ceiling's counters: not a number")
		}
		if n[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("read the ceiling's counters: %w", err)
		}
	}
	return n[0] + n[1], n[1], nil
}
