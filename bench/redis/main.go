// Command redis benchmarks Redis for the game. It has three modes, chosen by -mode:
//
//   - workload (the default): the leaderboard workload of game/workload_bench_test.go
//     against a Redis sorted set, the usual way to build a live leaderboard: per click
//     one pipelined EVALSHA of a script that counts the click (HINCRBY) and keeps the
//     best (ZADD GT), and once every -tick clicks a ZREVRANGE of the top 100
//     WITHSCORES. It prints one line in `go test -bench` format so bench/report can
//     read it next to the engine's figure.
//   - clicks: the Redis backend's own click script (redisgame.ClickScript) run the way
//     a node runs it, one call at a time per goroutine as a socket's clicks are, many
//     goroutines at once, through rueidis and through go-redis, to choose the client on
//     measured clicks/s and latency.
//   - ceiling: the same script driven by redis-benchmark with deep pipelining, the most
//     clicks/s this Redis can apply, to set one node's figure against.
//
// Only loopback addresses are accepted: the benchmark flushes the database it is given.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

const clickScript = `
local s = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('ZADD', KEYS[3], 'GT', s, ARGV[1])
return s`

// main parses the flags shared by the modes and runs the one asked for.
func main() {
	mode := flag.String("mode", "workload", "workload, clicks or ceiling")
	addr := flag.String("addr", "127.0.0.1:16379", "Redis address (loopback only)")
	players := flag.Int("players", 100_000, "players (clicks and ceiling modes: 5000 unless set)")
	clicks := flag.Int("clicks", 1_000_000, "workload: clicks to time")
	batch := flag.Int("pipeline", 500, "workload: clicks per pipelined round trip")
	tick := flag.Int("tick", 500, "workload: read the top 100 once every this many clicks")
	var c clickConfig
	flag.StringVar(&c.clients, "clients", "rueidis,goredis", "clicks: clients to measure, comma separated")
	flag.StringVar(&c.conc, "conc", "1,16,64,256", "clicks: concurrent callers, comma separated")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "clicks: time measured per client and concurrency, after a 1s warm-up")
	flag.IntVar(&c.count, "count", 1, "clicks: measure each client and concurrency this many times, interleaved (as go test -count); ceiling: run redis-benchmark this many times")
	var cc ceilingConfig
	flag.IntVar(&cc.conns, "bench-clients", 50, "ceiling: redis-benchmark connections (-c)")
	flag.IntVar(&cc.pipeline, "bench-pipeline", 16, "ceiling: redis-benchmark pipeline depth (-P)")
	flag.IntVar(&cc.requests, "requests", 500_000, "ceiling: redis-benchmark requests (-n)")
	flag.BoolVar(&cc.run, "run-benchmark", false, "ceiling: run the command too (needs redis-benchmark in PATH), and print its figure")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Fatalf("redis: -addr %q: loopback only", *addr)
	}
	// -players keeps its old default for the workload, whose published figures used
	// it; the click modes default to a smaller game, one node's worth of players.
	playersSet := false
	flag.Visit(func(f *flag.Flag) { playersSet = playersSet || f.Name == "players" })
	if !playersSet && *mode != "workload" {
		*players = 5000
	}
	if *players <= 0 {
		log.Fatalf("redis: -players %d: want at least 1", *players)
	}
	switch *mode {
	case "workload":
		runWorkload(*addr, *players, *clicks, *batch, *tick)
	case "clicks":
		c.addr, c.players = *addr, *players
		if err := runClicks(c); err != nil {
			log.Fatalf("redis: %v", err)
		}
	case "ceiling":
		cc.addr, cc.players, cc.count = *addr, *players, c.count
		if err := runCeiling(cc); err != nil {
			log.Fatalf("redis: %v", err)
		}
	default:
		log.Fatalf("redis: -mode %q: want workload, clicks or ceiling", *mode)
	}
}

// runWorkload is the leaderboard workload, kept as it was so that its figures stay
// comparable with those already published.
func runWorkload(addr string, players, clicks, batch, tick int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		log.Fatalf("redis: %v", err)
	}
	script := redis.NewScript(clickScript)
	if err := script.Load(ctx, rdb).Err(); err != nil {
		log.Fatalf("redis: load script: %v", err)
	}
	keys := []string{"score", "total", "best"}
	ids := make([]string, players)
	for i := range ids {
		ids[i] = "p" + strconv.Itoa(i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	run := func(n int) time.Duration {
		start := time.Now()
		for done := 0; done < n; {
			pipe := rdb.Pipeline()
			m := min(batch, n-done)
			for j := 0; j < m; j++ {
				script.EvalSha(ctx, pipe, keys, ids[rng.IntN(players)])
				if (done+j)%tick == tick-1 {
					pipe.ZRevRangeWithScores(ctx, "best", 0, 99)
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				log.Fatalf("redis: %v", err)
			}
			done += m
		}
		return time.Since(start)
	}
	run(min(clicks/10, 100_000)) // warm up
	d := run(clicks)
	// The same line format as go test -bench.
	fmt.Printf("BenchmarkRedisLeaderboardWorkload-%d\t%d\t%.1f ns/op\n", 1, clicks, float64(d.Nanoseconds())/float64(clicks))
	fmt.Fprintf(os.Stderr, "redis: %d clicks in %s (%.0f clicks/s), pipeline %d\n", clicks, d.Round(time.Millisecond), float64(clicks)/d.Seconds(), batch)
}
