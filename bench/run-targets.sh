#!/usr/bin/env bash
# The two load targets alone, about 8 minutes: 15,000 idle players (RSS per connection)
# twice, and 10,000 players at 5,000 clicks/s three times, each against the game and the
# bare transport back to back. Results: bench/results/targets-<time>/summary.md.
cd "$(dirname "$0")/.."
source bench/lib.sh
OUT=${OUT:-bench/results/targets-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
build
machine "$OUT"
for rep in 1 2; do
	for server in game bare; do
		point density "$server" 15000 0 "$rep" -probes 0 -warmup 2s -duration 5s -connect-rate 3000
	done
done
for rep in 1 2 3; do
	for server in game bare; do
		point sweep "$server" 10000 5000 "$rep" -warmup 3s -duration 10s -connect-rate 3000
	done
done
report
