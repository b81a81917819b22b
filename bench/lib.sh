# Shared by bench/run-quick.sh and bench/run-long.sh. Source it from the repo root.
# Every process started here is recorded and killed on exit; everything listens and
# connects on loopback only.
set -euo pipefail

BENCH_BIN=${BENCH_BIN:-bench/.bin}
# Unusual ports, checked free before every start (other servers may run on this host).
GAME_ADDR=${GAME_ADDR:-127.0.0.1:27380}
BARE_ADDR=${BARE_ADDR:-127.0.0.1:27390}
REDIS_PORT=${REDIS_PORT:-27379}
SRC=127.0.0.1-127.0.0.8
STARTED=()

cleanup() {
	for pid in "${STARTED[@]:-}"; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

log() { printf '\n== %s\n' "$*" >&2; }

# The hard limit on open files is 20000 here: raise the soft limit to it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

build() {
	log "building server, loadgen, bareserver and bench tools into $BENCH_BIN"
	mkdir -p "$BENCH_BIN"
	# A plain go build is enough: the benchmarks need the API and the socket, not the page.
	CGO_ENABLED=0 go build -trimpath -o "$BENCH_BIN/clickthebutton" .
	go build -o "$BENCH_BIN/loadgen" ./cmd/loadgen
	go build -o "$BENCH_BIN/bareserver" ./cmd/bareserver
	(cd bench && go build -o "../$BENCH_BIN/report" ./report && go build -o "../$BENCH_BIN/gencsv" ./gencsv && go build -o "../$BENCH_BIN/redisbench" ./redis)
	# Flags that lift the server's per-address limits, when this version has them: every
	# benchmark player comes from 127.0.0.x.
	GAME_FLAGS=()
	local help
	help=$("$BENCH_BIN/clickthebutton" --help 2>&1 || true)
	for f in "--new-players-per-minute 0" "--sockets-per-ip 0" "--conns-per-ip 0" "--max-conns 19500"; do
		if grep -q -- "${f%% *}" <<<"$help"; then GAME_FLAGS+=($f); fi
	done
}

machine() {
	{
		echo "date: $(date -u +%FT%TZ)"
		echo "commit: $(git describe --tags --always --dirty 2>/dev/null || echo unknown)"
		go version
		lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|CPU max MHz|L3)' || true
		free -h | head -2
		echo "open files: soft $(ulimit -Sn), hard $(ulimit -Hn)"
		echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$1/machine.txt"
}

port_free() { # host:port
	if (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; then
		echo "something already listens on $1: set GAME_ADDR/BARE_ADDR/REDIS_PORT to free ports" >&2
		return 1
	fi
}

# started_ok URL: waits for our freshly started SERVER_PID to answer.
started_ok() {
	wait_http "$1"
	kill -0 "$SERVER_PID" 2>/dev/null || { echo "server $SERVER_PID exited; see its log" >&2; return 1; }
}

wait_http() { # url
	for _ in $(seq 1 200); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "server at $1 did not come up" >&2
	return 1
}

# start_game DATA_DIR [extra flags...]: sets SERVER_PID
start_game() {
	local data=$1
	shift
	port_free "$GAME_ADDR"
	# GAME_ENV: environment for the server only, e.g. "GOGC=50" (loadgen keeps its own).
	env ${GAME_ENV:-} "$BENCH_BIN/clickthebutton" --addr "$GAME_ADDR" --data "$data" "${GAME_FLAGS[@]}" "$@" >"$data.log" 2>&1 &
	SERVER_PID=$!
	STARTED+=("$SERVER_PID")
	started_ok "http://$GAME_ADDR/healthz"
}

# start_bare MODE [extra flags...]: sets SERVER_PID
start_bare() {
	local mode=$1
	shift
	port_free "$BARE_ADDR"
	"$BENCH_BIN/bareserver" -mode "$mode" -addr "$BARE_ADDR" "$@" >"$OUT/bare.log" 2>&1 &
	SERVER_PID=$!
	STARTED+=("$SERVER_PID")
	started_ok "http://$BARE_ADDR/healthz"
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
}

# point EXP SERVER CLIENTS RATE REP [loadgen flags...]: one load run against a fresh
# server (game, bare or naive), appended to $OUT/load.jsonl.
point() {
	local exp=$1 server=$2 clients=$3 rate=$4 rep=$5
	shift 5
	local url procs=1 verify=100
	[ "$clients" -gt 4000 ] && procs=2
	case $server in
	game)
		rm -rf "$OUT/data-game"
		start_game "$OUT/data-game" ${GAME_EXTRA:-}
		url=http://$GAME_ADDR
		;;
	bare)
		start_bare transport -rows "${BARE_ROWS:-10}"
		url=http://$BARE_ADDR verify=0
		;;
	naive)
		start_bare naive
		url=http://$BARE_ADDR verify=0
		;;
	esac
	log "$exp: $server, $clients clients, $rate clicks/s, run $rep"
	"$BENCH_BIN/loadgen" -url "$url" -clients "$clients" -rate "$rate" -procs "$procs" -src "$SRC" \
		-server-pid "$SERVER_PID" -verify-every "$verify" -label "$exp|$server|$clients|$rate|$rep" \
		-out "$OUT/load.jsonl" "$@" 2> >(grep -v 'connected in' >&2) || echo "loadgen failed" >&2
	stop_server
}

# gobench OUTFILE COUNT BENCHTIME: the engine and frame benchmarks.
gobench() {
	log "go test -bench (count $2)"
	go test -run '^$' -bench 'BenchmarkClick$|BenchmarkClickParallel$|BenchmarkClickParallelSamePlayer$|BenchmarkTick1M|BenchmarkSnapshotWrite1M|BenchmarkSnapshotLoad1M|BenchmarkLeaderboardWorkload' \
		-benchmem -count "$2" -benchtime "$3" -timeout 30m ./game | tee "$1"
	go test -run '^$' -bench 'BenchmarkStateFrame' -benchmem -count "$2" ./server | tee -a "$1"
}

# redisbench OUTFILE REPS CLICKS: the Redis side of the leaderboard comparison. Skipped
# with a message when redis-server is not installed (apt-get install redis-server).
redisbench() {
	if ! command -v redis-server >/dev/null; then
		log "redis-server not installed: skipping the Redis comparison (apt-get install -y redis-server)"
		return 0
	fi
	log "Redis sorted set comparison ($2 runs of $3 clicks)"
	port_free "127.0.0.1:$REDIS_PORT"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --protected-mode yes >"$OUT/redis.log" 2>&1 &
	local rpid=$!
	STARTED+=("$rpid")
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
		sleep 0.05
	done
	for _ in $(seq 1 "$2"); do
		"$BENCH_BIN/redisbench" -addr "127.0.0.1:$REDIS_PORT" -clicks "$3" | tee -a "$1"
	done
	kill "$rpid" 2>/dev/null || true
	wait "$rpid" 2>/dev/null || true
}

# report writes summary.md and the charts the results call for (chart.svg,
# scaleout.svg), each also as PNG when rsvg-convert is there, and prints the summary.
report() {
	"$BENCH_BIN/report" -dir "$OUT" >/dev/null
	local svg
	for svg in "$OUT/chart.svg" "$OUT/scaleout.svg"; do
		[ -f "$svg" ] || continue
		if command -v rsvg-convert >/dev/null; then
			rsvg-convert -o "${svg%.svg}.png" "$svg"
		else
			log "rsvg-convert missing (apt-get install -y librsvg2-bin): $(basename "$svg") left as SVG"
		fi
	done
	cat "$OUT/summary.md"
	log "results in $OUT"
}
