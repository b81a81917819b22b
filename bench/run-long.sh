#!/usr/bin/env bash
# make bench-long: the figures of docs/benchmarks.md, about 30 minutes. Every load
# point runs REPS times against a fresh server, the game and the bare transport
# interleaved, so ratios are taken within one repetition. Results and the chart:
# bench/results/long-<time>/ (summary.md, chart.png, load.jsonl, *.bench.txt).
cd "$(dirname "$0")/.."
source bench/lib.sh
OUT=${OUT:-bench/results/long-$(date -u +%Y%m%d-%H%M%S)}
REPS=${REPS:-3}
# Knobs, for a shorter pass: SWEEP, REPS, NAIVE_CLIENTS, NAIVE_RATES, COUNT (go test -count).
SWEEP=${SWEEP:-1000 2500 5000 10000 15000}
mkdir -p "$OUT"
build
machine "$OUT"

# Fan-out sweep (and the 10k clients / 5k clicks/s target point): lag and CPU vs clients.
for rep in $(seq 1 "$REPS"); do
	for clients in $SWEEP; do
		for server in game bare; do
			point sweep "$server" "$clients" 5000 "$rep" -warmup 3s -duration 10s -connect-rate 3000
		done
	done
done

# Density: idle players, no clicks; RSS per connection.
for rep in $(seq 1 2); do
	for server in game bare; do
		point density "$server" 15000 0 "$rep" -probes 0 -warmup 2s -duration 5s -connect-rate 3000
	done
done

# Click latency with and without a snapshot of a million players being written.
"$BENCH_BIN/gencsv" -out "$OUT/scores-1m.csv" -players 1000000
for rep in $(seq 1 "$REPS"); do
	for snap in 1h 1s; do
		rm -rf "$OUT/data-game" && mkdir -p "$OUT/data-game" && cp "$OUT/scores-1m.csv" "$OUT/data-game/scores.csv"
		start_game "$OUT/data-game" --snapshot-interval "$snap"
		log "snapshot: interval $snap, run $rep"
		"$BENCH_BIN/loadgen" -url "http://$GAME_ADDR" -clients 2000 -rate 2000 -src "$SRC" -server-pid "$SERVER_PID" \
			-warmup 3s -duration 12s -verify-every 0 -label "snapshot-$snap|game|2000|2000|$rep" -out "$OUT/load.jsonl" 2>/dev/null
		echo "scores.csv last written $(stat -c %y "$OUT/data-game/scores.csv")" >&2
		stop_server
	done
done
rm -f "$OUT/scores-1m.csv"

# The naive design (one lock, whole board to everyone on every click) vs the game.
for clients in ${NAIVE_CLIENTS:-100 1000 5000}; do
	for rate in ${NAIVE_RATES:-100 1000 5000}; do
		for server in naive game; do
			# The naive server has no bot throttle; lift the game's too, so that 100
			# players at 50 clicks/s each are load, not bots.
			GAME_EXTRA="--throttle-limit 100000" point "naive-grid" "$server" "$clients" "$rate" 1 -warmup 2s -duration 5s -connect-rate 3000
		done
	done
done

# Engine benchmarks and the Redis comparison.
gobench "$OUT/go.bench.txt" "${COUNT:-5}" 1s
redisbench "$OUT/redis.bench.txt" "$REPS" 1000000
rm -rf "$OUT/data-game" "$OUT"/data-game.log
report
