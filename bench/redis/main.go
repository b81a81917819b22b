// Command redis runs the leaderboard workload of game/workload_bench_test.go against a
// Redis sorted set, the usual way to build a live leaderboard: per click one pipelined
// EVALSHA of a script that counts the click (HINCRBY) and keeps the best (ZADD GT), and
// once every -tick clicks a ZREVRANGE of the top 100 WITHSCORES. It prints one line in
// `go test -bench` format so bench/report can read it next to the engine's figure.
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

func main() {
	addr := flag.String("addr", "127.0.0.1:16379", "Redis address (loopback only)")
	players := flag.Int("players", 100_000, "players")
	clicks := flag.Int("clicks", 1_000_000, "clicks to time")
	batch := flag.Int("pipeline", 500, "clicks per pipelined round trip")
	tick := flag.Int("tick", 500, "read the top 100 once every this many clicks")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Fatalf("redis: -addr %q: loopback only", *addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: 1})
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		log.Fatalf("redis: %v", err)
	}
	script := redis.NewScript(clickScript)
	if err := script.Load(ctx, rdb).Err(); err != nil {
		log.Fatalf("redis: load script: %v", err)
	}
	keys := []string{"score", "total", "best"}
	ids := make([]string, *players)
	for i := range ids {
		ids[i] = "p" + strconv.Itoa(i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	run := func(n int) time.Duration {
		start := time.Now()
		for done := 0; done < n; {
			pipe := rdb.Pipeline()
			m := min(*batch, n-done)
			for j := 0; j < m; j++ {
				script.EvalSha(ctx, pipe, keys, ids[rng.IntN(*players)])
				if (done+j)%*tick == *tick-1 {
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
	run(min(*clicks/10, 100_000)) // warm up
	d := run(*clicks)
	// The same line format as go test -bench.
	fmt.Printf("BenchmarkRedisLeaderboardWorkload-%d\t%d\t%.1f ns/op\n", 1, *clicks, float64(d.Nanoseconds())/float64(*clicks))
	fmt.Fprintf(os.Stderr, "redis: %d clicks in %s (%.0f clicks/s), pipeline %d\n", *clicks, d.Round(time.Millisecond), float64(*clicks)/d.Seconds(), *batch)
}
