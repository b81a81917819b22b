#!/usr/bin/env bash
# make bench: a quick set, a few minutes. Engine and frame benchmarks once, the Redis
# comparison once (skipped when redis-server is missing), and one short side-by-side
# load run of the game and the bare transport. Results: bench/results/quick-<time>/.
cd "$(dirname "$0")/.."
source bench/lib.sh
OUT=${OUT:-bench/results/quick-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
build
machine "$OUT"
gobench "$OUT/go.bench.txt" 1 1s
redisbench "$OUT/redis.bench.txt" 1 200000
for server in game bare; do
	point fanout "$server" 2000 2000 1 -warmup 2s -duration 8s
done
report
