#!/usr/bin/env bash
# Memory per idle connection under several Go runtime settings of the server: 15,000
# idle players (no clicks), RSS per connection as cmd/loadgen reports it, each setting
# on a fresh server, the settings interleaved within each repetition. After the last
# repetition of the default, a heap profile and the runtime's memory statistics of a
# server holding the same players are taken after a forced GC (profile-*.txt).
# Results: bench/results/density-<time>/ (summary.md, load.jsonl, profile-*.txt).
cd "$(dirname "$0")/.."
source bench/lib.sh
OUT=${OUT:-bench/results/density-$(date -u +%Y%m%d-%H%M%S)}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-15000}
# Space-separated settings; "default" is none. Commas inside one setting separate variables.
SETTINGS=${SETTINGS:-default GOGC=50 GOGC=25 GOMEMLIMIT=200MiB}
mkdir -p "$OUT"
build
machine "$OUT"
for rep in $(seq 1 "$REPS"); do
	for s in $SETTINGS; do
		env=""
		[ "$s" != default ] && env=${s//,/ }
		GAME_ENV=$env point "density-$s" game "$CLIENTS" 0 "$rep" -probes 0 -warmup 2s -duration 5s -connect-rate 3000
	done
done
# The heap after a GC, default settings.
PPROF=127.0.0.1:27360
port_free "$PPROF"
rm -rf "$OUT/data-game"
start_game "$OUT/data-game" --pprof-addr "$PPROF"
"$BENCH_BIN/loadgen" -url "http://$GAME_ADDR" -clients "$CLIENTS" -rate 0 -src "$SRC" -server-pid "$SERVER_PID" \
	-probes 0 -warmup 2s -duration 20s -connect-rate 3000 -verify-every 0 -label "density-profile|game|$CLIENTS|0|1" -out "$OUT/profile.jsonl" 2>/dev/null &
LG=$!
sleep 15
curl -fsS "http://$PPROF/debug/pprof/heap?debug=1&gc=1" | grep -E '^# (HeapAlloc|HeapSys|HeapIdle|HeapInuse|HeapReleased|Stack|MSpan|Sys|NumGC)' >"$OUT/profile-memstats.txt" || true
go tool pprof -sample_index=inuse_space -top -nodecount 25 "http://$PPROF/debug/pprof/heap" >"$OUT/profile-heap.txt" 2>/dev/null || true
grep -E '^(VmRSS|RssAnon|RssFile)' "/proc/$SERVER_PID/status" >>"$OUT/profile-memstats.txt" || true
wait "$LG" || true
stop_server
rm -rf "$OUT/data-game"
"$BENCH_BIN/report" -dir "$OUT" >/dev/null
log "summary: $OUT/summary.md"
