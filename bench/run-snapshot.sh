#!/usr/bin/env bash
# Clicks while a million-player scores file is written every second, against the same
# game that writes none during the window, interleaved within each repetition. Every
# run starts a fresh server on a copy of one generated 1M-player scores.csv; the
# server's own snapshot timings (ctb_snapshot_duration_seconds) and its start-up load
# time are kept beside the load results. About 30 s per run, 2*REPS runs.
# Results: bench/results/snapshot-<time>/ (summary.md, load.jsonl, snapshots.txt).
cd "$(dirname "$0")/.."
source bench/lib.sh
OUT=${OUT:-bench/results/snapshot-$(date -u +%Y%m%d-%H%M%S)}
REPS=${REPS:-5}
CLIENTS=${CLIENTS:-2000}
RATE=${RATE:-2000}
mkdir -p "$OUT"
build
machine "$OUT"
"$BENCH_BIN/gencsv" -out "$OUT/scores-1m.csv" -players 1000000
: >"$OUT/snapshots.txt"
for rep in $(seq 1 "$REPS"); do
	for snap in 1h 1s; do
		rm -rf "$OUT/data-game" && mkdir -p "$OUT/data-game" && cp "$OUT/scores-1m.csv" "$OUT/data-game/scores.csv"
		start_game "$OUT/data-game" --snapshot-interval "$snap"
		log "snapshot: interval $snap, run $rep (load average $(cut -d' ' -f1-3 /proc/loadavg))"
		"$BENCH_BIN/loadgen" -url "http://$GAME_ADDR" -clients "$CLIENTS" -rate "$RATE" -src "$SRC" -server-pid "$SERVER_PID" \
			-warmup 3s -duration 12s -verify-every 0 -label "snapshot-$snap|game|$CLIENTS|$RATE|$rep" -out "$OUT/load.jsonl" 2>/dev/null
		{
			echo "run $rep, interval $snap, load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
			grep -o 'scores loaded.*' "$OUT/data-game.log" || true
			curl -fsS "http://$GAME_ADDR/metrics" | grep -E '^ctb_snapshot_(duration_seconds_(sum|count)|size_bytes)' || true
		} >>"$OUT/snapshots.txt"
		stop_server
	done
done
rm -rf "$OUT/scores-1m.csv" "$OUT/data-game"
"$BENCH_BIN/report" -dir "$OUT" >/dev/null
cat "$OUT/snapshots.txt" >&2
log "summary: $OUT/summary.md"
